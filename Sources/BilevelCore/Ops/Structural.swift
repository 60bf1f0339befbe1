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
      throw ShapeError("cannot reshape \(inputs[0]) (\(inputs[0].count) entries) to \(declared.map(\.description) ?? "?")")
    }
    return declared
  case .slice(let s):
    guard let declared, declared.count == s.count, s.rowEnd <= inputs[0].rows, s.columnEnd <= inputs[0].columns
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
    throw ShapeError("concat joins vectors with vectors or matrices with matrices, not \(inputs.map(\.description).joined(separator: " and "))")
  }
  if axis == 0 {
    guard inputs.allSatisfy({ $0.columns == inputs[0].columns }) else {
      throw ShapeError("concat along axis 0 needs equal column counts, not \(inputs.map(\.description).joined(separator: " and "))")
    }
    return .matrix(inputs.reduce(0) { $0 + $1.rows }, inputs[0].columns)
  }
  guard inputs.allSatisfy({ $0.rows == inputs[0].rows }) else {
    throw ShapeError("concat along axis 1 needs equal row counts, not \(inputs.map(\.description).joined(separator: " and "))")
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
