import BilevelVectorMath
import Foundation

/// Elementwise functions of one argument.
public enum UnaryFunction: String, Hashable, Sendable, CaseIterable {
  case negate, exp, log, sqrt, abs, tanh, sigmoid, relu, softplus, sin, cos
  /// -1, 0 or 1; the derivative of abs.
  case sign
  /// Heaviside: 1 for x > 0, else 0 (so step(0) = 0); the derivative of relu.
  case step

  /// The language's name for it (`negate` is spelled with a prefix minus).
  public var name: String { rawValue }

  /// One line for the reference (`bilevelc help functions`).
  public var doc: String {
    switch self {
    case .negate: return "−x (written as a prefix minus)"
    case .exp: return "eˣ"
    case .log: return "natural logarithm"
    case .sqrt: return "square root"
    case .abs: return "|x|"
    case .tanh: return "hyperbolic tangent"
    case .sigmoid: return "1 / (1 + e⁻ˣ), stable for large |x|"
    case .relu: return "max(x, 0)"
    case .softplus: return "log(1 + eˣ), stable for large |x|"
    case .sin: return "sine (radians)"
    case .cos: return "cosine (radians)"
    case .sign: return "−1, 0 or 1"
    case .step: return "Heaviside step: 1 for x > 0, else 0"
    }
  }

  /// The derivative taken where the function has a kink (nil: smooth on its domain).
  public var kinkConvention: String? {
    switch self {
    case .abs: return "abs′(0) = sign(0) = 0"
    case .relu: return "relu′(0) = step(0) = 0"
    case .sqrt: return "sqrt′(0) = 0"
    case .sign: return "derivative 0 everywhere, also at 0"
    case .step: return "derivative 0 everywhere, also at 0"
    case .negate, .exp, .log, .tanh, .sigmoid, .softplus, .sin, .cos: return nil
    }
  }

  /// The transcendental behind this function, if it is one: its kernel
  /// runs on SIMD lanes, and the scalar form here is the same algorithm.
  public var transcendental: VectorMath.Function? {
    switch self {
    case .exp: return .exp
    case .log: return .log
    case .tanh: return .tanh
    case .sigmoid: return .sigmoid
    case .softplus: return .softplus
    case .negate, .sqrt, .abs, .relu, .sin, .cos, .sign, .step: return nil
    }
  }

  /// The reference definition, in numerically stable forms. exp, log,
  /// tanh, sigmoid (1/(1 + e⁻ˣ) for x ≥ 0, eˣ/(1 + eˣ) below) and softplus
  /// (max(x, 0) + log1p(e⁻|ˣ|)) are BilevelVectorMath's, the same bits on
  /// every machine and in every kernel.
  @inline(__always)
  public func apply(_ x: Double) -> Double {
    switch self {
    case .negate: return -x
    case .exp: return VectorMath.exp(x)
    case .log: return VectorMath.log(x)
    case .sqrt: return x.squareRoot()
    case .abs: return Swift.abs(x)
    case .tanh: return VectorMath.tanh(x)
    case .sigmoid: return VectorMath.sigmoid(x)
    case .relu: return x > 0 ? x : 0
    case .softplus: return VectorMath.softplus(x)
    case .sin: return Foundation.sin(x)
    case .cos: return Foundation.cos(x)
    case .sign: return x.isNaN ? x : x > 0 ? 1 : x < 0 ? -1 : 0
    case .step: return x.isNaN ? x : x > 0 ? 1 : 0
    }
  }
}

/// Elementwise functions of two arguments, with broadcasting.
public enum BinaryFunction: String, Hashable, Sendable, CaseIterable {
  case add, subtract, multiply, divide, power
  /// max(a, b) and min(a, b), entrywise: called, not infix.
  case maximum, minimum

  /// The operator, or for a called function its name in the language.
  public var symbol: String {
    switch self {
    case .add: return "+"
    case .subtract: return "-"
    case .multiply: return "*"
    case .divide: return "/"
    case .power: return "^"
    case .maximum: return "max"
    case .minimum: return "min"
    }
  }

  /// Written `a ∘ b` (else `f(a, b)`).
  public var isInfix: Bool { self != .maximum && self != .minimum }

  /// `a ∘ b` or `f(a, b)` as the language writes it.
  public func written(_ a: String, _ b: String) -> String {
    isInfix ? "\(a) \(symbol) \(b)" : "\(symbol)(\(a), \(b))"
  }

  /// The derivative taken at a tie (nil: smooth).
  public var kinkConvention: String? {
    switch self {
    case .maximum, .minimum: return "at a tie (a = b) the whole gradient goes to the first argument"
    case .add, .subtract, .multiply, .divide, .power: return nil
    }
  }

  public var isCommutative: Bool { self == .add || self == .multiply }

  @inline(__always)
  public func apply(_ a: Double, _ b: Double) -> Double {
    switch self {
    case .add: return a + b
    case .subtract: return a - b
    case .multiply: return a * b
    case .divide: return a / b
    case .power: return Foundation.pow(a, b)
    // NaN in either operand gives NaN (Swift.max would drop it).
    case .maximum: return a.isNaN || b.isNaN ? .nan : a >= b ? a : b
    case .minimum: return a.isNaN || b.isNaN ? .nan : a <= b ? a : b
    }
  }
}

/// How an operand's entries map onto a broadcast result.
public enum BroadcastRole: Sendable {
  case same
  /// One value everywhere.
  case scalar
  /// A vector of length `columns`, repeated down the rows.
  case row
  /// A vector of length `rows`, repeated across the columns.
  case column

  /// The role of an operand of shape `from` in a result of shape `to`, or nil
  /// when it does not broadcast. A vector matches a matrix's columns first
  /// (as numpy does), then its rows; a one-row or one-column matrix repeats
  /// along its axis of size 1.
  public static func of(_ from: Shape, in to: Shape) -> BroadcastRole? {
    if from == to { return .same }
    if from.count == 1 && from.rank <= to.rank { return .scalar }
    guard to.isMatrix else { return nil }
    if from.isVector {
      if from.rows == to.columns { return .row }
      if from.rows == to.rows { return .column }
    }
    if from.isMatrix {
      if from.rows == 1 && from.columns == to.columns { return .row }
      if from.columns == 1 && from.rows == to.rows { return .column }
    }
    return nil
  }

  /// Index of the operand entry that feeds result entry (i, j).
  @inline(__always)
  public func sourceIndex(row i: Int, column j: Int, columns: Int) -> Int {
    switch self {
    case .same: return i * columns + j
    case .scalar: return 0
    case .row: return j
    case .column: return i
    }
  }
}

/// The shape of `a ∘ b` under broadcasting; the error names both shapes.
func broadcastShape(_ a: Shape, _ b: Shape) throws(ShapeError) -> Shape {
  if a == b { return a }
  if BroadcastRole.of(a, in: b) != nil { return b }
  if BroadcastRole.of(b, in: a) != nil { return a }
  // A column against a row: both repeat (numpy's outer broadcasting).
  if a.isMatrix && b.isMatrix {
    let result = Shape.matrix(max(a.rows, b.rows), max(a.columns, b.columns))
    if BroadcastRole.of(a, in: result) != nil && BroadcastRole.of(b, in: result) != nil {
      return result
    }
  }
  throw ShapeError("cannot combine \(a) and \(b) elementwise")
}

extension Tensor {
  func map(_ f: (Double) -> Double) -> Tensor {
    Tensor(shape: shape, scalars: scalars.map(f))
  }

  /// Entries of this operand broadcast to `to` (reference semantics).
  func broadcast(to: Shape) -> Tensor {
    let role = BroadcastRole.of(shape, in: to)!
    if role == .same { return self }
    var out = [Double](repeating: 0, count: to.count)
    for i in 0..<to.rows {
      for j in 0..<to.columns {
        out[i * to.columns + j] = scalars[role.sourceIndex(row: i, column: j, columns: to.columns)]
      }
    }
    return Tensor(shape: to, scalars: out)
  }
}

func evaluateBinary(_ f: BinaryFunction, _ a: Tensor, _ b: Tensor, shape: Shape) -> Tensor {
  let x = a.broadcast(to: shape)
  let y = b.broadcast(to: shape)
  var out = [Double](repeating: 0, count: shape.count)
  for k in 0..<shape.count { out[k] = f.apply(x.scalars[k], y.scalars[k]) }
  return Tensor(shape: shape, scalars: out)
}

// MARK: Derivative rules

extension UnaryFunction {
  /// f'(x) as a graph, given x and y = f(x). At kinks the value is finite
  /// and documented: abs'(0) = sign(0) = 0, relu'(0) = step(0) = 0,
  /// sqrt'(0) = 0 (the subgradient that keeps Adam's √v finite), and
  /// sign' = step' = 0 everywhere.
  func derivative(_ b: inout Rewriter, x: NodeID, y: NodeID) -> NodeID {
    switch self {
    case .negate: return b.scalar(-1)
    case .exp: return y
    case .log: return b.divide(b.scalar(1), x)
    // 1/(2√x) written as √x / (2x), with the denominator guarded at 0.
    case .sqrt: return b.divide(b.multiply(b.scalar(0.5), y), b.guardedDenominator(x))
    case .abs: return b.apply(.sign, x)
    case .tanh: return b.subtract(b.scalar(1), b.power(y, b.scalar(2)))
    case .sigmoid: return b.multiply(y, b.subtract(b.scalar(1), y))
    case .relu: return b.apply(.step, x)
    case .softplus: return b.apply(.sigmoid, x)
    case .sin: return b.apply(.cos, x)
    case .cos: return b.negate(b.apply(.sin, x))
    case .sign, .step: return b.zeros(b.graph.shape(x))
    }
  }

  func jvp(_ b: inout Rewriter, _ node: Node, _ id: NodeID, _ t: NodeID) -> NodeID {
    switch self {
    case .negate: return b.negate(t)
    case .sign, .step: return b.zeros(node.shape)
    default: return b.multiply(derivative(&b, x: node.inputs[0], y: id), t)
    }
  }

  func vjp(_ b: inout Rewriter, _ node: Node, _ id: NodeID, _ g: NodeID) -> NodeID {
    switch self {
    case .negate: return b.negate(g)
    case .sign, .step: return b.zeros(node.shape)
    default: return b.multiply(derivative(&b, x: node.inputs[0], y: id), g)
    }
  }
}

extension BinaryFunction {
  /// ∂(a ∘ c)/∂(operand k), broadcast-compatible with the result; y = a ∘ c.
  func partial(_ b: inout Rewriter, _ k: Int, a: NodeID, c: NodeID, y: NodeID) -> NodeID {
    switch (self, k) {
    case (.add, _), (.subtract, 0): return b.scalar(1)
    case (.subtract, _): return b.scalar(-1)
    case (.multiply, 0): return c
    case (.multiply, _): return a
    case (.divide, 0): return b.divide(b.scalar(1), c)
    case (.divide, _): return b.negate(b.divide(y, c))
    case (.power, 0): return b.multiply(c, b.power(a, b.subtract(c, b.scalar(1))))
    case (.power, _): return b.multiply(y, b.apply(.log, a))
    // Ties go to the first operand: ∂/∂a = 1 − step(c − a), ∂/∂c = step(c − a)
    // for max (a and c swapped inside step for min), so the two sum to 1.
    case (.maximum, 0): return b.subtract(b.scalar(1), b.apply(.step, b.subtract(c, a)))
    case (.maximum, _): return b.apply(.step, b.subtract(c, a))
    case (.minimum, 0): return b.subtract(b.scalar(1), b.apply(.step, b.subtract(a, c)))
    case (.minimum, _): return b.apply(.step, b.subtract(a, c))
    }
  }

  func jvp(_ b: inout Rewriter, _ node: Node, _ id: NodeID, _ tangents: [NodeID?]) -> NodeID {
    var total: NodeID? = nil
    for (k, t) in tangents.enumerated() {
      guard let t else { continue }
      let term: NodeID
      switch (self, k) {
      case (.add, _), (.subtract, 0): term = t
      case (.subtract, _): term = b.negate(t)
      default: term = b.multiply(partial(&b, k, a: node.inputs[0], c: node.inputs[1], y: id), t)
      }
      total = total.map { b.add($0, term) } ?? term
    }
    return b.broadcast(total!, to: node.shape)
  }

  func vjp(_ b: inout Rewriter, _ node: Node, _ id: NodeID, _ g: NodeID, input k: Int) -> NodeID {
    let contribution: NodeID
    switch (self, k) {
    case (.add, _), (.subtract, 0): contribution = g
    case (.subtract, _): contribution = b.negate(g)
    default:
      contribution = b.multiply(partial(&b, k, a: node.inputs[0], c: node.inputs[1], y: id), g)
    }
    return b.sumTo(contribution, b.graph.shape(node.inputs[k]))
  }
}
