import BilevelCore
import BilevelFrontEnd
import Foundation

/// Random scalar expressions over a few vector and scalar inputs, written
/// both as .blv text (for the compiler) and evaluated on a ScalarTape with
/// vectors unrolled into scalars (for the oracle).
public indirect enum RandomExpression: CustomStringConvertible {
  case input(Int)
  case constant(Double)
  /// exp, log, tanh, sin, cos, sqrt, sigmoid, softplus, or "-" (negation).
  case unary(String, RandomExpression)
  /// A power by a constant exponent.
  case power(RandomExpression, Double)
  /// + - * / with scalars broadcast against vectors.
  case binary(String, RandomExpression, RandomExpression)
  case sum(RandomExpression)
  case mean(RandomExpression)
  case dot(RandomExpression, RandomExpression)

  public static let functions = [
    "exp", "log", "tanh", "sin", "cos", "sqrt", "sigmoid", "softplus", "-",
  ]
  public static let exponents: [Double] = [2, 3, -1, 0.5, 1.5]
  public static let operators = ["+", "-", "*", "/"]
  static let constants: [Double] = [0.5, 1.5, 2, -1, 0.3, -0.7]

  /// .blv text, fully parenthesised.
  public var description: String {
    switch self {
    case .input(let i): return RandomProgram.name(i)
    case .constant(let c): return "(\(formatNumber(c)))"
    case .unary("-", let a): return "(-\(a))"
    case .unary(let f, let a): return "\(f)(\(a))"
    case .power(let a, let c): return "(\(a)^\(c < 0 ? "(\(formatNumber(c)))" : formatNumber(c)))"
    case .binary(let o, let a, let b): return "(\(a) \(o) \(b))"
    case .sum(let a): return "sum(\(a))"
    case .mean(let a): return "mean(\(a))"
    case .dot(let a, let b): return "dot(\(a), \(b))"
    }
  }

  /// The value on a tape: one node per entry (one for a scalar).
  public func evaluate(_ tape: ScalarTape, _ inputs: [[TapeNode]]) -> [TapeNode] {
    func broadcast(_ a: [TapeNode], _ b: [TapeNode]) -> [(TapeNode, TapeNode)] {
      let n = max(a.count, b.count)
      return (0..<n).map { (a[a.count == 1 ? 0 : $0], b[b.count == 1 ? 0 : $0]) }
    }
    func total(_ xs: [TapeNode]) -> TapeNode { xs.dropFirst().reduce(xs[0]) { tape.add($0, $1) } }
    switch self {
    case .input(let i): return inputs[i]
    case .constant(let c): return [tape.constant(c)]
    case .unary(let f, let a):
      return a.evaluate(tape, inputs).map { x in
        switch f {
        case "exp": return tape.exp(x)
        case "log": return tape.log(x)
        case "tanh": return tape.tanh(x)
        case "sin": return tape.sin(x)
        case "cos": return tape.cos(x)
        case "sqrt": return tape.sqrt(x)
        case "sigmoid": return tape.sigmoid(x)
        case "softplus": return tape.softplus(x)
        default: return tape.negate(x)
        }
      }
    case .power(let a, let c): return a.evaluate(tape, inputs).map { tape.power($0, c) }
    case .binary(let o, let a, let b):
      return broadcast(a.evaluate(tape, inputs), b.evaluate(tape, inputs)).map { x, y in
        switch o {
        case "+": return tape.add(x, y)
        case "-": return tape.subtract(x, y)
        case "*": return tape.multiply(x, y)
        default: return tape.divide(x, y)
        }
      }
    case .sum(let a): return [total(a.evaluate(tape, inputs))]
    case .mean(let a):
      let xs = a.evaluate(tape, inputs)
      return [tape.divide(total(xs), tape.constant(Double(xs.count)))]
    case .dot(let a, let b):
      return [
        total(zip(a.evaluate(tape, inputs), b.evaluate(tape, inputs)).map { tape.multiply($0, $1) })
      ]
    }
  }

  var inputsUsed: Set<Int> {
    switch self {
    case .input(let i): return [i]
    case .constant: return []
    case .unary(_, let a), .power(let a, _), .sum(let a), .mean(let a): return a.inputsUsed
    case .binary(_, let a, let b), .dot(let a, let b): return a.inputsUsed.union(b.inputsUsed)
    }
  }
}

/// A random program: 2–3 inputs (at least one a vector, all vectors of one
/// length), values for them, and a scalar expression of depth ≤ 5.
public struct RandomProgram {
  public let shapes: [Shape]
  public let values: [Tensor]
  public let expression: RandomExpression

  public static func name(_ i: Int) -> String { "in\(i)" }

  public init(seed: UInt64) {
    var rng = TestRandom(seed: seed)
    let n = rng.integer(2...4)
    let count = rng.integer(2...3)
    var shapes = (0..<count).map { _ in rng.chance(0.65) ? Shape.vector(n) : Shape.scalar }
    if !shapes.contains(where: \.isVector) { shapes[0] = .vector(n) }
    self.shapes = shapes
    self.values = shapes.map { s in
      Tensor(shape: s, scalars: (0..<s.count).map { _ in rng.uniform(-1.5, 1.5) })
    }
    var generator = Generator(shapes: shapes, rng: rng)
    var e = generator.make(depth: rng.integer(3...5), vector: false)
    while e.inputsUsed.isEmpty { e = generator.make(depth: 3, vector: false) }
    expression = e
  }

  public var bindings: [(String, Tensor)] {
    values.enumerated().map { (Self.name($0.offset), $0.element) }
  }

  /// The oracle's gradient, flattened input by input, and the gradient's
  /// scale: the same sums over paths with every partial replaced by its
  /// absolute value, which bounds the terms that cancel in each entry.
  /// Nil when the point is outside the region the comparison is meant for.
  public func tapeGradient() -> (value: Double, gradient: [Double], scale: [Double])? {
    let tape = ScalarTape()
    let inputs = values.map { $0.scalars.map(tape.variable) }
    let out = expression.evaluate(tape, inputs)[0]
    guard !tape.outOfDomain else { return nil }
    tape.backward(from: out, absolute: true)
    let scale = inputs.flatMap { $0.map(\.adjoint) }
    tape.backward(from: out)
    return (out.value, inputs.flatMap { $0.map(\.adjoint) }, scale)
  }

  struct Generator {
    let shapes: [Shape]
    var rng: TestRandom

    mutating func leaf(vector: Bool) -> RandomExpression {
      let candidates = shapes.indices.filter { shapes[$0].isVector == vector }
      if candidates.isEmpty || (!vector && rng.chance(0.3)) {
        return .constant(rng.pick(RandomExpression.constants))
      }
      return .input(rng.pick(candidates))
    }

    mutating func make(depth: Int, vector: Bool) -> RandomExpression {
      if depth <= 1 || rng.chance(0.15) { return leaf(vector: vector) }
      let d = depth - 1
      // Functions twice as likely as each other kind of node.
      switch rng.pick(vector ? [0, 0, 1, 2, 3, 4] : [0, 0, 1, 2, 3, 4, 5, 6]) {
      case 0:
        let f = rng.pick(RandomExpression.functions)
        let argument = make(depth: d, vector: vector)
        // log and sqrt mostly of a positive argument, (E)^2 + c, so fewer draws are rejected.
        if (f == "log" || f == "sqrt") && rng.chance(0.7) {
          return .unary(f, .binary("+", .power(argument, 2), .constant(rng.pick([0.5, 1.5, 2]))))
        }
        return .unary(f, argument)
      case 1: return .power(make(depth: d, vector: vector), rng.pick(RandomExpression.exponents))
      case 2:
        return .binary(
          rng.pick(RandomExpression.operators), make(depth: d, vector: vector),
          make(depth: d, vector: vector))
      case 3:
        // A scalar broadcast against a vector (either side), or two scalars.
        let left = rng.chance(0.5)
        return .binary(
          rng.pick(RandomExpression.operators), make(depth: d, vector: vector && left),
          make(depth: d, vector: vector && !left))
      case 4:
        return vector
          ? .unary(rng.pick(RandomExpression.functions), make(depth: d, vector: true))
          : .sum(make(depth: d, vector: true))
      case 5: return .mean(make(depth: d, vector: true))
      default: return .dot(make(depth: d, vector: true), make(depth: d, vector: true))
      }
    }
  }
}
