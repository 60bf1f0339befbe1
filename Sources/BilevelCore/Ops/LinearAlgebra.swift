/// matmul covers matrix·matrix, matrix·vector, vector·matrix and
/// vector·vector (a dot product); transposes are flags on the product.
func matmulShape(
  _ a: Shape, _ b: Shape, transposeLeft: Bool, transposeRight: Bool
) throws(ShapeError) -> Shape {
  let l = transposeLeft ? a.transposed : a
  let r = transposeRight ? b.transposed : b
  let written = "\(l) @ \(r)"
  guard !l.isScalar && !r.isScalar else {
    throw ShapeError("'@' needs vectors or matrices, not \(written); use '*' to scale")
  }
  // Inner sizes: a vector on the left is a row, on the right a column.
  let leftInner = l.isMatrix ? l.columns : l.rows
  let rightInner = r.rows
  guard leftInner == rightInner else {
    throw ShapeError(
      "cannot multiply \(l) by \(r): inner sizes \(leftInner) and \(rightInner) differ")
  }
  switch (l.isMatrix, r.isMatrix) {
  case (true, true): return .matrix(l.rows, r.columns)
  case (true, false): return .vector(l.rows)
  case (false, true): return .vector(r.columns)
  case (false, false): return .scalar
  }
}

func solveShape(_ a: Shape, _ b: Shape) throws(ShapeError) -> Shape {
  guard a.isMatrix, a.rows == a.columns else {
    throw ShapeError("solve(A, b) needs a square matrix A, but A is \(a)")
  }
  guard !b.isScalar, b.rows == a.rows else {
    throw ShapeError("solve(\(a), \(b)): the right-hand side needs \(a.rows) rows")
  }
  return b
}

/// Reference product, in the plain i-j-k order (the definition, not the fast kernel).
func evaluateMatmul(
  _ a: Tensor, _ b: Tensor, transposeLeft: Bool, transposeRight: Bool, shape: Shape
) -> Tensor {
  let l = transposeLeft ? evaluateStructural(.transpose, [a], shape: a.shape.transposed) : a
  let r = transposeRight ? evaluateStructural(.transpose, [b], shape: b.shape.transposed) : b
  let m = l.shape.isMatrix ? l.shape.rows : 1
  let k = l.shape.isMatrix ? l.shape.columns : l.shape.rows
  let n = r.shape.isMatrix ? r.shape.columns : 1
  var out = [Double](repeating: 0, count: m * n)
  for i in 0..<m {
    for j in 0..<n {
      var s = 0.0
      for p in 0..<k { s += l.scalars[i * k + p] * r.scalars[p * n + j] }
      out[i * n + j] = s
    }
  }
  return Tensor(shape: shape, scalars: out)
}

/// Reference solve: LU with partial pivoting. A singular matrix gives
/// non-finite entries, which the evaluator reports as a numeric fault.
func evaluateSolve(_ a: Tensor, _ b: Tensor, shape: Shape) -> Tensor {
  let n = a.shape.rows
  let nrhs = b.shape.isMatrix ? b.shape.columns : 1
  var lu = a.scalars
  var x = b.scalars
  for col in 0..<n {
    var pivot = col
    for r in (col + 1)..<max(col + 1, n) where abs(lu[r * n + col]) > abs(lu[pivot * n + col]) {
      pivot = r
    }
    if pivot != col {
      for j in 0..<n { lu.swapAt(col * n + j, pivot * n + j) }
      for j in 0..<nrhs { x.swapAt(col * nrhs + j, pivot * nrhs + j) }
    }
    let p = lu[col * n + col]
    for r in (col + 1)..<max(col + 1, n) {
      let f = lu[r * n + col] / p
      if f == 0 { continue }
      for j in col..<n { lu[r * n + j] -= f * lu[col * n + j] }
      for j in 0..<nrhs { x[r * nrhs + j] -= f * x[col * nrhs + j] }
    }
  }
  for col in stride(from: n - 1, through: 0, by: -1) {
    for j in 0..<nrhs {
      var s = x[col * nrhs + j]
      for k in (col + 1)..<max(col + 1, n) { s -= lu[col * n + k] * x[k * nrhs + j] }
      x[col * nrhs + j] = s / lu[col * n + col]
    }
  }
  return Tensor(shape: shape, scalars: x)
}

// MARK: Derivative rules

extension Rewriter {
  /// u vᵀ for vectors u and v, as a product of a column and a row.
  mutating func outerProduct(_ u: NodeID, _ v: NodeID) -> NodeID {
    let (su, sv) = (graph.shape(u), graph.shape(v))
    return matmul(reshape(u, .matrix(su.count, 1)), reshape(v, .matrix(1, sv.count)))
  }
}

/// C = op(A) op(B), op a transpose when flagged. The products are linear in
/// each operand; cotangents use the same kernel with flipped flags, so no
/// transpose is ever materialised.
func matmulJVP(
  _ b: inout Rewriter, _ node: Node, _ tangents: [NodeID?], _ tl: Bool, _ tr: Bool
) -> NodeID {
  let (A, B) = (node.inputs[0], node.inputs[1])
  var total: NodeID? = nil
  if let dA = tangents[0] { total = b.matmul(dA, B, tl, tr) }
  if let dB = tangents[1] {
    let term = b.matmul(A, dB, tl, tr)
    total = total.map { b.add($0, term) } ?? term
  }
  return total!
}

func matmulVJP(
  _ b: inout Rewriter, _ node: Node, _ g: NodeID, input k: Int, _ tl: Bool, _ tr: Bool
) -> NodeID {
  let (A, B) = (node.inputs[0], node.inputs[1])
  let (leftIsMatrix, rightIsMatrix) = (b.graph.shape(A).isMatrix, b.graph.shape(B).isMatrix)
  switch (leftIsMatrix, rightIsMatrix, k) {
  case (true, true, 0): return tl ? b.matmul(B, g, tr, true) : b.matmul(g, B, false, !tr)
  case (true, true, _): return tr ? b.matmul(g, A, true, tl) : b.matmul(A, g, !tl, false)
  case (true, false, 0): return tl ? b.outerProduct(B, g) : b.outerProduct(g, B)
  case (true, false, _): return b.matmul(A, g, !tl, false)
  case (false, true, 0): return b.matmul(B, g, tr, false)
  case (false, true, _): return tr ? b.outerProduct(g, A) : b.outerProduct(A, g)
  case (false, false, 0): return b.multiply(g, B)
  case (false, false, _): return b.multiply(g, A)
  }
}

/// X = A⁻¹ b: dX = A⁻¹ (db − dA X); b̄ = A⁻ᵀ X̄, Ā = −b̄ Xᵀ.
func solveJVP(_ b: inout Rewriter, _ node: Node, _ id: NodeID, _ tangents: [NodeID?]) -> NodeID {
  let A = node.inputs[0]
  var rhs = tangents[1]
  if let dA = tangents[0] {
    let term = b.matmul(dA, id)
    rhs = rhs.map { b.subtract($0, term) } ?? b.negate(term)
  }
  return b.node(.solve, [A, rhs!])
}

func solveVJP(_ b: inout Rewriter, _ node: Node, _ id: NodeID, _ g: NodeID, input k: Int) -> NodeID
{
  let barB = b.node(.solve, [b.transpose(node.inputs[0]), g])
  if k == 1 { return barB }
  return b.negate(
    b.graph.shape(id).isMatrix ? b.matmul(barB, id, false, true) : b.outerProduct(barB, id))
}
