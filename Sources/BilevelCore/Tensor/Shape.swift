/// The static shape of a value: a scalar, a vector or a matrix. Values never
/// have more than two axes, so a shape is three small integers and needs no
/// allocation.
public struct Shape: Hashable, Sendable, CustomStringConvertible {
  public let rank: Int
  /// Rows (or length for a vector); 1 for a scalar.
  public let rows: Int
  /// Columns of a matrix; 1 otherwise.
  public let columns: Int

  public static let scalar = Shape(rank: 0, rows: 1, columns: 1)
  public static func vector(_ n: Int) -> Shape { Shape(rank: 1, rows: n, columns: 1) }
  public static func matrix(_ m: Int, _ n: Int) -> Shape { Shape(rank: 2, rows: m, columns: n) }

  init(rank: Int, rows: Int, columns: Int) {
    self.rank = rank
    self.rows = rows
    self.columns = columns
  }

  /// Builds a shape from its dimensions (at most two).
  public init(_ dims: [Int]) {
    switch dims.count {
    case 0: self = .scalar
    case 1: self = .vector(dims[0])
    default: self = .matrix(dims[0], dims[1])
    }
  }

  public var count: Int { rows * columns }
  public var dims: [Int] {
    switch rank {
    case 0: return []
    case 1: return [rows]
    default: return [rows, columns]
    }
  }
  public var isScalar: Bool { rank == 0 }
  public var isVector: Bool { rank == 1 }
  public var isMatrix: Bool { rank == 2 }

  /// As the language writes types: `scalar`, `vector[3]`, `matrix[2, 3]`.
  public var description: String {
    switch rank {
    case 0: return "scalar"
    case 1: return "vector[\(rows)]"
    default: return "matrix[\(rows), \(columns)]"
    }
  }

  /// The transposed shape; vectors and scalars are their own transpose.
  public var transposed: Shape { rank == 2 ? .matrix(columns, rows) : self }
}

/// Every value is a Float64 tensor: a shape and its entries in row-major order.
public struct Tensor: Hashable, Sendable {
  public let shape: Shape
  public var scalars: [Double]

  public init(shape: Shape, scalars: [Double]) {
    precondition(
      shape.count == scalars.count, "tensor of shape \(shape) given \(scalars.count) entries")
    self.shape = shape
    self.scalars = scalars
  }

  public init(_ value: Double) { self.init(shape: .scalar, scalars: [value]) }

  public init(filling value: Double, shape: Shape) {
    self.init(shape: shape, scalars: Array(repeating: value, count: shape.count))
  }

  public subscript(row: Int, column: Int) -> Double {
    get { scalars[row * shape.columns + column] }
    set { scalars[row * shape.columns + column] = newValue }
  }

  public var scalar: Double { scalars[0] }

  /// Compares bit patterns, so equal tensors intern to one constant node
  /// (NaN equals NaN, 0 and -0 differ).
  public static func == (a: Tensor, b: Tensor) -> Bool {
    a.shape == b.shape && a.scalars.elementsEqual(b.scalars) { $0.bitPattern == $1.bitPattern }
  }

  public func hash(into h: inout Hasher) {
    h.combine(shape)
    for s in scalars { h.combine(s.bitPattern) }
  }
}
