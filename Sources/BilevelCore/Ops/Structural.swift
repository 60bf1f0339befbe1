/// A rectangular window of a value, 0-based and half-open. Vectors use
/// `columns == 0..<1`. The node's shape says whether an axis is dropped.
public struct SliceSpec: Hashable, Sendable {
  public let rowStart: Int, rowEnd: Int, columnStart: Int, columnEnd: Int
  public init(rows: Range<Int>, columns: Range<Int>) {
    rowStart = rows.lowerBound
    rowEnd = rows.upperBound
    columnStart = columns.lowerBound
    columnEnd = columns.upperBound
  }
  public var count: Int { (rowEnd - rowStart) * (columnEnd - columnStart) }
}

func structuralShape(_ op: Op, _ inputs: [Shape], declared: Shape?) throws(ShapeError) -> Shape {
  switch op {
  case .broadcast:
    guard let declared, BroadcastRole.of(inputs[0], in: declared) != nil else {
      throw ShapeError("cannot broadcast \(inputs[0]) to \(declared.map(\.description) ?? "?")")
    }
    return declared
  case .transpose:
    return inputs[0].transposed
  case .reshape:
    guard let declared, declared.count == inputs[0].count else {
      throw ShapeError(
        "cannot reshape \(inputs[0]) (\(inputs[0].count) entries) to \(declared.map(\.description) ?? "?")"
      )
    }
    return declared
  case .slice(let s):
    guard let declared, declared.count == s.count, s.rowEnd <= inputs[0].rows,
      s.columnEnd <= inputs[0].columns
    else { throw ShapeError("slice does not fit \(inputs[0])") }
    return declared
  case .concat(let axis):
    return try concatShape(inputs, axis: axis)
  case .diag:
    let x = inputs[0]
    if x.isVector { return .matrix(x.rows, x.rows) }
    if x.isMatrix && x.rows == x.columns { return .vector(x.rows) }
    throw ShapeError("diag takes a vector or a square matrix, not \(x)")
  default:
    throw ShapeError("not a structural op")
  }
}

func concatShape(_ inputs: [Shape], axis: Int) throws(ShapeError) -> Shape {
  if inputs.allSatisfy({ !$0.isMatrix }) {
    return .vector(inputs.reduce(0) { $0 + $1.count })
  }
  guard inputs.allSatisfy(\.isMatrix) else {
    throw ShapeError(
      "concat joins vectors with vectors or matrices with matrices, not \(inputs.map(\.description).joined(separator: " and "))"
    )
  }
  if axis == 0 {
    guard inputs.allSatisfy({ $0.columns == inputs[0].columns }) else {
      throw ShapeError(
        "concat along axis 0 needs equal column counts, not \(inputs.map(\.description).joined(separator: " and "))"
      )
    }
    return .matrix(inputs.reduce(0) { $0 + $1.rows }, inputs[0].columns)
  }
  guard inputs.allSatisfy({ $0.rows == inputs[0].rows }) else {
    throw ShapeError(
      "concat along axis 1 needs equal row counts, not \(inputs.map(\.description).joined(separator: " and "))"
    )
  }
  return .matrix(inputs[0].rows, inputs.reduce(0) { $0 + $1.columns })
}

extension Op {
  func structuralShape(_ inputs: [Shape], declared: Shape?) throws(ShapeError) -> Shape {
    try BilevelCore.structuralShape(self, inputs, declared: declared)
  }
}

/// Reference kernels of the structural ops.
func evaluateStructural(_ op: Op, _ inputs: [Tensor], shape: Shape) -> Tensor {
  let x = inputs[0]
  switch op {
  case .broadcast:
    return x.broadcast(to: shape)
  case .transpose:
    guard x.shape.isMatrix else { return x }
    var out = [Double](repeating: 0, count: x.shape.count)
    for i in 0..<x.shape.rows {
      for j in 0..<x.shape.columns { out[j * x.shape.rows + i] = x[i, j] }
    }
    return Tensor(shape: shape, scalars: out)
  case .reshape:
    return Tensor(shape: shape, scalars: x.scalars)
  case .slice(let s):
    var out: [Double] = []
    out.reserveCapacity(s.count)
    for i in s.rowStart..<s.rowEnd {
      for j in s.columnStart..<s.columnEnd { out.append(x.scalars[i * x.shape.columns + j]) }
    }
    return Tensor(shape: shape, scalars: out)
  case .concat(let axis):
    if !shape.isMatrix || axis == 0 {
      return Tensor(shape: shape, scalars: inputs.flatMap(\.scalars))
    }
    var out: [Double] = []
    out.reserveCapacity(shape.count)
    for i in 0..<shape.rows {
      for t in inputs {
        out.append(contentsOf: t.scalars[(i * t.shape.columns)..<((i + 1) * t.shape.columns)])
      }
    }
    return Tensor(shape: shape, scalars: out)
  case .diag:
    if x.shape.isVector {
      var out = Tensor(filling: 0, shape: shape)
      for i in 0..<x.shape.rows { out[i, i] = x.scalars[i] }
      return out
    }
    return Tensor(shape: shape, scalars: (0..<shape.rows).map { x[$0, $0] })
  default:
    preconditionFailure("not a structural op: \(op)")
  }
}

// MARK: Derivative rules (every structural op is linear)

extension Op {
  func structuralJVP(_ b: inout Rewriter, _ node: Node, _ tangents: [NodeID?]) -> NodeID {
    switch self {
    case .broadcast: return b.broadcast(tangents[0]!, to: node.shape)
    case .transpose: return b.transpose(tangents[0]!)
    case .reshape: return b.reshape(tangents[0]!, node.shape)
    case .slice, .diag: return b.node(self, [tangents[0]!], shape: node.shape)
    case .concat:
      let parts = zip(node.inputs, tangents).map { input, t in t ?? b.zeros(b.graph.shape(input)) }
      return b.node(self, parts, shape: node.shape)
    default: preconditionFailure("not a structural op: \(self)")
    }
  }

  func structuralVJP(_ b: inout Rewriter, _ node: Node, _ g: NodeID, input k: Int) -> NodeID {
    let inputShape = b.graph.shape(node.inputs[k])
    switch self {
    case .broadcast: return b.sumTo(g, inputShape)
    case .transpose: return b.transpose(g)
    case .reshape: return b.reshape(g, inputShape)
    case .diag: return b.node(.diag, [g])
    case .slice(let s): return b.pad(g, s, into: inputShape)
    case .concat(let axis):
      // The part of g that input k filled.
      let shapes = node.inputs.map { b.graph.shape($0) }
      let along = { (s: Shape) -> Int in
        node.shape.isMatrix ? (axis == 0 ? s.rows : s.columns) : s.count
      }
      let start = shapes[..<k].reduce(0) { $0 + along($1) }
      let range = start..<(start + along(inputShape))
      let spec =
        !node.shape.isMatrix
        ? SliceSpec(rows: range, columns: 0..<1)
        : axis == 0
          ? SliceSpec(rows: range, columns: 0..<node.shape.columns)
          : SliceSpec(rows: 0..<node.shape.rows, columns: range)
      return b.node(.slice(spec), [g], shape: inputShape)
    default: preconditionFailure("not a structural op: \(self)")
    }
  }
}

extension Rewriter {
  /// The adjoint of a slice: `g` placed in its window of a zero value of
  /// `shape`, built from concat and zeros so it prints as .blv.
  mutating func pad(_ g: NodeID, _ s: SliceSpec, into shape: Shape) -> NodeID {
    func join(_ parts: [NodeID?], axis: Int) -> NodeID {
      let present = parts.compactMap { $0 }
      return present.count == 1 ? present[0] : node(.concat(axis: axis), present)
    }
    if !shape.isMatrix {
      let window = reshape(g, .vector(s.rowEnd - s.rowStart))
      return join(
        [
          s.rowStart > 0 ? zeros(.vector(s.rowStart)) : nil, window,
          s.rowEnd < shape.rows ? zeros(.vector(shape.rows - s.rowEnd)) : nil,
        ], axis: 0)
    }
    let (r, c) = (s.rowEnd - s.rowStart, s.columnEnd - s.columnStart)
    let window = reshape(g, .matrix(r, c))
    let band = join(
      [
        s.columnStart > 0 ? zeros(.matrix(r, s.columnStart)) : nil, window,
        s.columnEnd < shape.columns ? zeros(.matrix(r, shape.columns - s.columnEnd)) : nil,
      ], axis: 1)
    return join(
      [
        s.rowStart > 0 ? zeros(.matrix(s.rowStart, shape.columns)) : nil, band,
        s.rowEnd < shape.rows ? zeros(.matrix(shape.rows - s.rowEnd, shape.columns)) : nil,
      ], axis: 0)
  }
}
