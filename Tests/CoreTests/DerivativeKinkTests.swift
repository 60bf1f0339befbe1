import BilevelCore
import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

/// Derivatives where the functions are not smooth or overflow naively: the
/// documented finite values at kinks (Elementwise.swift, Reductions.swift)
/// and large logits. Each expression is a scalar of data named x or X.
@Suite struct DerivativeKinkTests {
  struct Derivatives {
    let gradient: [Double]
    /// H v along the given direction (all ones by default).
    let hvp: [Double]
    /// ∇f · v, forward mode.
    let jvp: Double
    var all: [Double] { gradient + hvp + [jvp] }
  }

  static func derivatives(
    _ text: String, _ name: String, _ value: Tensor, along: [Double]? = nil,
    simplify: Bool = true
  ) throws -> Derivatives {
    var h = try DerivativeHarness(
      statements: DerivativeHarness.dataStatements([(name, value)]), expression: text,
      wrt: [name], simplify: simplify)
    let f = h.output
    let leaves = h.leaves.map(\.node)
    let v = h.direction()
    let grad = h.differentiate { $0.gradient(of: f, wrt: leaves) }
    let hvp = h.differentiate { $0.hessianVectorProduct(of: f, wrt: leaves, along: v) }
    let jvp = h.differentiate { $0.jacobianVectorProduct(of: [f], wrt: leaves, along: v) }
    let direction = h.bind(v, along ?? [Double](repeating: 1, count: h.dimension))
    return Derivatives(
      gradient: h.leafShaped(grad, at: h.start),
      hvp: h.leafShaped(hvp, at: h.start, inputs: direction),
      jvp: h.values(jvp[0], at: h.start, inputs: direction)[0])
  }

  static func vector(_ xs: [Double]) -> Tensor { Tensor(shape: .vector(xs.count), scalars: xs) }
  static func matrix(_ rows: [[Double]]) -> Tensor {
    Tensor(shape: .matrix(rows.count, rows[0].count), scalars: rows.flatMap { $0 })
  }

  static func close(_ a: [Double], _ b: [Double], _ tolerance: Double = 1e-12) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
  }

  /// Both the elaborated and the simplified graph (REPL and compiler).
  static let forms = [false, true]

  @Test(arguments: forms)
  func absReluSignAndStepAtZero(_ simplify: Bool) throws {
    let x = Self.vector([-1.5, 0, 2])
    let abs = try Self.derivatives("sum(abs(x))", "x", x, simplify: simplify)
    #expect(abs.gradient == [-1, 0, 1])
    #expect(abs.hvp == [0, 0, 0])
    let relu = try Self.derivatives("sum(relu(x))", "x", x, simplify: simplify)
    #expect(relu.gradient == [0, 0, 1])
    #expect(relu.hvp == [0, 0, 0])
    for f in ["sign", "step"] {
      let d = try Self.derivatives("sum(\(f)(x) * x)", "x", x, simplify: simplify)
      // d/dx (sign(x) x) = sign(x): sign' and step' are 0, even at 0.
      #expect(d.gradient == (f == "sign" ? [-1, 0, 1] : [0, 0, 1]), "\(f)")
      #expect(d.all.allSatisfy { $0.isFinite }, "\(f)")
    }
  }

  @Test(arguments: forms)
  func sqrtAtZeroIsFinite(_ simplify: Bool) throws {
    let d = try Self.derivatives(
      "sum(sqrt(x))", "x", Self.vector([0, 4, 0.25]), simplify: simplify)
    #expect(Self.close(d.gradient, [0, 0.25, 1]))
    // f'' = −x^(−3/2)/4, taken as 0 at 0.
    #expect(Self.close(d.hvp, [0, -1.0 / 32, -2]), "\(d.hvp)")
    #expect(d.all.allSatisfy { $0.isFinite })
    // Through a composition: the gradient of √(Σx²) at 0.
    let z = try Self.derivatives("sqrt(sum(x^2))", "x", Self.vector([0, 0]), simplify: simplify)
    #expect(z.gradient == [0, 0] && z.all.allSatisfy { $0.isFinite }, "\(z.all)")
  }

  /// The guard that makes sqrt'(0) and norm'(0) finite must not touch
  /// small positive inputs: there the derivatives are exact to rounding.
  @Test(arguments: forms)
  func smallPositiveInputsKeepFullPrecision(_ simplify: Bool) throws {
    let xs: [Double] = [1e-300, 1e-20, 1e-14, 1e-10, 1e-6, 4]
    let d = try Self.derivatives("sum(sqrt(x))", "x", Self.vector(xs), simplify: simplify)
    #expect(Self.close(d.gradient, xs.map { 0.5 / $0.squareRoot() }, 1e-14), "\(d.gradient)")
    // f'' = −x^(−3/2)/4 is finite for x ≥ 1e-200 (it overflows below).
    #expect(
      Self.close(
        Array(d.hvp.dropFirst()), xs.dropFirst().map { -0.25 / ($0 * $0.squareRoot()) }, 1e-14),
      "\(d.hvp)")
    for scale in [1e-20, 1e-12, 1e-8] {
      let n = try Self.derivatives(
        "norm(x)", "x", Self.vector([3 * scale, 4 * scale]), simplify: simplify)
      #expect(Self.close(n.gradient, [0.6, 0.8], 1e-14), "norm at scale \(scale): \(n.gradient)")
      let rows = try Self.derivatives(
        "sum(norm(X, axis: columns))", "X", Self.matrix([[3 * scale, 4 * scale], [1, 0]]),
        simplify: simplify)
      #expect(
        Self.close(rows.gradient, [0.6, 0.8, 1, 0], 1e-14),
        "rows at scale \(scale): \(rows.gradient)")
    }
  }

  @Test(arguments: forms)
  func normAtZero(_ simplify: Bool) throws {
    let d = try Self.derivatives("norm(x)", "x", Self.vector([0, 0, 0]), simplify: simplify)
    #expect(d.gradient == [0, 0, 0])
    #expect(d.all.allSatisfy { $0.isFinite }, "\(d.all)")
    // A zero row among others: that row's gradient is 0, the other x/‖x‖.
    let rows = try Self.derivatives(
      "sum(norm(X, axis: columns))", "X", Self.matrix([[0, 0], [3, 4]]), simplify: simplify)
    #expect(Self.close(rows.gradient, [0, 0, 0.6, 0.8]))
    #expect(rows.all.allSatisfy { $0.isFinite }, "\(rows.all)")
    let columns = try Self.derivatives(
      "sum(norm(X, axis: rows))", "X", Self.matrix([[0, 3], [0, 4]]), simplify: simplify)
    #expect(Self.close(columns.gradient, [0, 0.6, 0, 0.8]))
  }

  @Test(arguments: forms)
  func maxWithTiesSplitsEvenly(_ simplify: Bool) throws {
    let two = try Self.derivatives("max(x)", "x", Self.vector([1, 3, 3, 2]), simplify: simplify)
    #expect(two.gradient == [0, 0.5, 0.5, 0])
    let three = try Self.derivatives("max(x)", "x", Self.vector([2, 2, 2]), simplify: simplify)
    #expect(Self.close(three.gradient, [1.0 / 3, 1.0 / 3, 1.0 / 3]))
    // Forward mode agrees: ∇max · v is the mean of v over the ties.
    let jvp = try Self.derivatives(
      "max(x)", "x", Self.vector([1, 3, 3, 2]), along: [5, 1, 2, 7], simplify: simplify)
    #expect(Self.close([jvp.jvp], [1.5]))
    let X = Self.matrix([[1, 5, 0], [1, 2, 0]])
    let columns = try Self.derivatives("sum(max(X, axis: rows))", "X", X, simplify: simplify)
    #expect(columns.gradient == [0.5, 1, 0.5, 0.5, 0, 0.5])
    let rows = try Self.derivatives(
      "sum(max(X, axis: columns))", "X", Self.matrix([[4, 4, 1], [0, 2, 2]]), simplify: simplify)
    #expect(rows.gradient == [0.5, 0.5, 0, 0, 0.5, 0.5])
    #expect((two.all + columns.all + rows.all).allSatisfy { $0.isFinite })
  }

  /// Requests with nothing to differentiate through: the leaf itself, and
  /// a value that does not depend on it.
  @Test func trivialRequests() throws {
    var h = try DerivativeHarness(
      statements: DerivativeHarness.dataStatements([("x", Self.vector([1, -2])), ("a", Tensor(3))]),
      expression: "a * 2", wrt: ["a", "x"], simplify: false)
    let (a, x) = (h.leaves[0].node, h.leaves[1].node)
    let f = h.output
    let v = h.direction()
    let selfGradient = h.differentiate { $0.gradient(of: a, wrt: [a, x]) }
    let gradient = h.differentiate { $0.gradient(of: f, wrt: [a, x]) }
    let five = h.graph.constant(5)
    let constant = h.differentiate { $0.gradient(of: five, wrt: [a, x]) }
    let jvp = h.differentiate { $0.jacobianVectorProduct(of: [x, f], wrt: [a, x], along: v) }
    let vjp = h.differentiate {
      $0.vectorJacobianProduct(of: [x], cotangents: [v[1]], wrt: [a, x])
    }
    let along = h.bind(v, [0.5, 7, 9])
    #expect(h.leafShaped(selfGradient, at: h.start) == [1, 0, 0])
    #expect(h.leafShaped(gradient, at: h.start) == [2, 0, 0])
    #expect(h.leafShaped(constant, at: h.start) == [0, 0, 0])
    #expect(h.evaluate(jvp, at: h.start, inputs: along).map(\.scalars) == [[7, 9], [1]])
    #expect(h.leafShaped(vjp, at: h.start, inputs: along) == [0, 7, 9])
  }

  /// (expression, expected gradient at x = [−800, 0, 800]).
  static let largeLogits: [(String, [Double])] = [
    ("sum(softmax(x) * [1, 2, 3])", [0, 0, 0]),
    ("sum(log_softmax(x) * [1, 2, 3])", [1, 2, 3 - 6]),
    ("logsumexp(x)", [0, 0, 1]),
    ("cross_entropy(x, 1)", [-1, 0, 1]),
    ("cross_entropy(x, [0.5, 0.25, 0.25])", [-0.5, -0.25, 0.75]),
    ("sum(logistic_loss(x))", [-1, -0.5, 0]),
    ("sum(sigmoid(x))", [0, 0.25, 0]),
    ("sum(softplus(x))", [0, 0.5, 1]),
    ("sum(exp(log_softmax(x)))", [0, 0, 0]),
  ]

  @Test(arguments: forms)
  func largeLogitsHaveFiniteDerivatives(_ simplify: Bool) throws {
    let x = Self.vector([-800, 0, 800])
    for (text, expected) in Self.largeLogits {
      let d = try Self.derivatives(text, "x", x, along: [0.3, -1, 2], simplify: simplify)
      #expect(d.all.allSatisfy { $0.isFinite }, "\(text): \(d.all)")
      #expect(Self.close(d.gradient, expected), "\(text): \(d.gradient)")
    }
    // Row-wise on matrices: each row's softmax is one-hot or uniform.
    let X = Self.matrix([[800, -800, 0], [1, 1, 1]])
    for text in [
      "sum(softmax(X) * X)", "sum(log_softmax(X))", "sum(logsumexp(X, axis: columns))",
      "sum(cross_entropy(X, [2, 3]))",
    ] {
      let d = try Self.derivatives(
        text, "X", X, along: [1, -2, 0.5, 0.1, 0.2, 0.3], simplify: simplify)
      #expect(d.all.allSatisfy { $0.isFinite }, "\(text): \(d.all)")
    }
    let ce = try Self.derivatives("sum(cross_entropy(X, [2, 3]))", "X", X, simplify: simplify)
    let third = 1.0 / 3
    let expected: [Double] = [1, -1, 0, third, third, third - 1]
    #expect(Self.close(ce.gradient, expected))
  }
}
