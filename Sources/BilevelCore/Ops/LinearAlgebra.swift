/// matmul covers matrix·matrix, matrix·vector, vector·matrix and
/// vector·vector (a dot product); transposes are flags on the product.
func matmulShape(_ a: Shape, _ b: Shape, transposeLeft: Bool, transposeRight: Bool) throws(ShapeError) -> Shape {
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
    throw ShapeError("cannot multiply \(l) by \(r): inner sizes \(leftInner) and \(rightInner) differ")
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
func evaluateMatmul(_ a: Tensor, _ b: Tensor, transposeLeft: Bool, transposeRight: Bool, shape: Shape) -> Tensor {
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
    for r in (col + 1)..<max(col + 1, n) where abs(lu[r * n + col]) > abs(lu[pivot * n + col]) { pivot = r }
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
