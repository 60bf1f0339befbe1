import BilevelCore
import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

/// Derivatives of the compositions hypergradients are made of: model losses,
/// a closed-form ridge head, an unrolled gradient step (derivatives of a
/// derivative graph), and a per-task program.
@Suite struct DerivativeCompositionTests {
  static func random(_ shape: Shape, seed: UInt64, scale: Double = 1) -> Tensor {
    var rng = TestRandom(seed: seed)
    return Tensor(shape: shape, scalars: rng.normals(shape.count).map { $0 * scale })
  }

  static func expectPassed(_ results: [Comparison], _ what: String) {
    for r in results where !r.passed { Issue.record("\(what): \(r)") }
    #expect(!results.isEmpty)
  }

  /// The full battery (DerivativeBattery) on a scalar loss, simplified and not.
  static func battery(_ what: String, statements: [String], loss: String, wrt: [String]) throws {
    for simplify in [true, false] {
      var h = try DerivativeHarness(
        statements: statements, expression: loss, wrt: wrt, simplify: simplify)
      #expect(h.graph.shape(h.output).isScalar)
      expectPassed(
        DerivativeBattery.run(&h, seed: TestRandom.seed(what, simplify ? 1 : 0)),
        "\(what) (simplified: \(simplify))")
    }
  }

  @Test func mlpRegressionLoss() throws {
    let data = DerivativeHarness.dataStatements([
      ("X", Self.random(.matrix(5, 3), seed: 1)), ("y", Self.random(.vector(5), seed: 2)),
      ("W1", Self.random(.matrix(3, 4), seed: 3, scale: 0.7)),
      ("b1", Self.random(.vector(4), seed: 4, scale: 0.3)),
      ("W2", Self.random(.vector(4), seed: 5)), ("b2", Self.random(.scalar, seed: 6)),
    ])
    try Self.battery(
      "MLP", statements: data, loss: "mean((tanh(X @ W1 + b1) @ W2 + b2 - y)^2)",
      wrt: ["W1", "b1", "W2", "b2"])
  }

  @Test func softmaxRegressionWithClassLabels() throws {
    let data = DerivativeHarness.dataStatements([
      ("X", Self.random(.matrix(6, 3), seed: 11)), ("W", Self.random(.matrix(3, 4), seed: 12)),
      ("b", Self.random(.vector(4), seed: 13)),
    ])
    try Self.battery(
      "softmax regression", statements: data,
      loss: "mean(cross_entropy(X @ W + b, [1, 4, 2, 3, 3, 1]))",
      wrt: ["W", "b"])
  }

  @Test func closedFormRidgeHead() throws {
    let statements =
      DerivativeHarness.dataStatements([
        ("X", Self.random(.matrix(6, 3), seed: 21)), ("y", Self.random(.vector(6), seed: 22)),
        ("Xv", Self.random(.matrix(4, 3), seed: 23)), ("yv", Self.random(.vector(4), seed: 24)),
        ("lam", Tensor(-0.4)),
      ]) + ["let w = solve(X' @ X + exp(lam) * eye(3), X' @ y)"]
    try Self.battery(
      "ridge head", statements: statements, loss: "mean((Xv @ w - yv)^2)", wrt: ["lam", "X"])
  }

  /// Φ(θ, φ) = θ − η ∇θ L(θ, φ), differentiated in reverse: VJPs of a
  /// gradient graph, against differences and against v − η H v.
  @Test(arguments: [true, false])
  func unrolledGradientStep(_ simplify: Bool) throws {
    let statements = DerivativeHarness.dataStatements([
      ("A", Self.random(.matrix(5, 3), seed: 31)), ("b", Self.random(.vector(5), seed: 32)),
      ("theta", Self.random(.vector(3), seed: 33)),
      ("phi", Self.random(.vector(3), seed: 34, scale: 0.5)),
    ])
    let loss =
      "0.5 * sum((A @ theta - b)^2) + 0.5 * sum(exp(phi) * theta^2) + sum(sin(theta) * phi)"
    var h = try DerivativeHarness(
      statements: statements, expression: loss, wrt: ["theta", "phi"], simplify: simplify)
    let (L, theta, phi) = (h.output, h.leaves[0].node, h.leaves[1].node)
    let eta = 0.1
    let g = h.differentiate { $0.gradient(of: L, wrt: [theta]) }[0]
    let etaNode = h.graph.constant(eta)
    let step = h.graph.make(
      .binary(.subtract), [theta, h.graph.make(.binary(.multiply), [etaNode, g])])
    let v = h.input(.vector(3))
    let vjp = h.differentiate {
      $0.vectorJacobianProduct(of: [step], cotangents: [v], wrt: [theta, phi])
    }
    let hv = h.differentiate { $0.hessianVectorProduct(of: L, wrt: [theta], along: [v]) }[0]
    let mixed = h.differentiate {
      $0.mixedProduct(of: L, differentiating: [phi], along: [theta], direction: [v])
    }[0]

    var rng = TestRandom(seed: 35)
    let vValue = rng.normals(3)
    let vIn = h.bind(v, vValue)
    let x = h.start
    let e = h
    let computed = e.leafShaped(vjp, at: x, inputs: vIn)
    let fd = FiniteDifferences.gradient({ Dense.dot(vValue, e.values(step, at: $0)) }, at: x)
    var results = [
      Comparison("VJP of the step against differences", computed, fd, tolerance: 1e-6, floor: 1e-10)
    ]
    // (∂Φ/∂θ)ᵀ v = v − η H v and (∂Φ/∂φ)ᵀ v = −η (∂²L/∂φ∂θ) v.
    let hvValue = e.values(hv, at: x, inputs: vIn)
    results.append(
      Comparison(
        "(∂Φ/∂θ)ᵀ v = v − η H v", Array(computed[0..<3]), Dense.axpy(-eta, hvValue, vValue),
        tolerance: 1e-12, floor: 0))
    results.append(
      Comparison(
        "(∂Φ/∂φ)ᵀ v = −η (∂²L/∂φ∂θ) v", Array(computed[3..<6]),
        e.values(mixed, at: x, inputs: vIn).map { -eta * $0 }, tolerance: 1e-12, floor: 0))
    Self.expectPassed(results, "unrolled step")

    // The whole battery on Φ itself: its HVPs are third derivatives of L.
    h.setOutput(step)
    Self.expectPassed(DerivativeBattery.run(&h, seed: 36), "battery on the unrolled step")
  }

  static let taskProgram = [
    "tasks t in 1..3",
    "data xs[t] = randn(4, 2, seed: t)",
    "data ys[t] = randn(4, seed: t + 10)",
    "outer W: vector[2] = [0.3, -0.7]",
    "inner V[t]: vector[2] = W + 0.4 * t - 0.9",
    "inner loss[t] = sum((xs[t] @ V[t] - ys[t])^2) + sum(exp(W) * (V[t] - W)^2)",
  ]
  static let taskOuterLoss =
    "mean over t: sum((tanh(xs[t] @ (V[t] * W)) - ys[t])^2) + 0.1 * sum(W^2)"

  /// A per-task program: the outer loss (a task mean) in the outer W and the
  /// per-task inner V[t], evaluated per task as the evaluator does.
  @Test func perTaskOuterLoss() throws {
    try Self.battery(
      "per-task outer loss", statements: Self.taskProgram, loss: Self.taskOuterLoss,
      wrt: ["W", "V"])
    let h = try DerivativeHarness(
      statements: Self.taskProgram, expression: Self.taskOuterLoss, wrt: ["W", "V"], simplify: true)
    #expect(h.dimension == 2 + 3 * 2)
    // Each V[t] starts somewhere else, so the tasks differ.
    #expect(Set(h.start[2...].map { $0 }).count == 6)
  }

  /// The per-task inner loss L_t: its gradient in V is per task (∂L_t/∂V[t]),
  /// in the shared W it adds over the tasks (Σ_t ∂L_t/∂W); likewise the
  /// products the implicit methods take: H_t v_t per task and the mixed
  /// product Σ_t (∂²L_t/∂W∂V[t]) v_t.
  @Test func perTaskInnerLoss() throws {
    var h = try DerivativeHarness(
      statements: Self.taskProgram, expression: "W", wrt: ["W", "V"], simplify: false)
    let loss = try #require(h.program.innerLoss)
    let (W, V) = (h.leaves[0].node, h.leaves[1].node)
    let grad = h.differentiate { $0.gradient(of: loss, wrt: [W, V]) }
    let dir = h.direction()
    let hvp = h.differentiate { $0.hessianVectorProduct(of: loss, wrt: [V], along: [dir[1]]) }[0]
    let mixed = h.differentiate {
      $0.mixedProduct(of: loss, differentiating: [W], along: [V], direction: [dir[1]])
    }[0]
    let e = h
    let x = e.start
    let total = { (x: [Double]) in
      (0..<e.taskCount).reduce(0.0) { $0 + e.evaluate([loss], at: x, task: $1)[0].scalar }
    }
    let computed = e.leafShaped(grad, at: x)
    var results = [
      Comparison(
        "∇ Σ_t L_t", computed, FiniteDifferences.gradient(total, at: x), tolerance: 1e-6,
        floor: 1e-10)
    ]
    // Task by task: ∂L_t/∂V[s] is 0 for s ≠ t.
    let range = e.coordinates(of: 1)
    for t in 0..<e.taskCount {
      let one = { (x: [Double]) in e.evaluate([loss], at: x, task: t)[0].scalar }
      var expected = [Double](repeating: 0, count: range.count)
      for k in (2 * t)..<(2 * t + 2) { expected[k] = computed[range.lowerBound + k] }
      results.append(
        Comparison(
          "∂L_\(t)/∂V", FiniteDifferences.gradient(one, at: x, indices: Array(range)), expected,
          tolerance: 1e-6, floor: 1e-10))
    }
    // A per-task direction v in V only.
    var rng = TestRandom(seed: 41)
    var v = [Double](repeating: 0, count: e.dimension)
    for i in range { v[i] = rng.normal() }
    let vIn = e.bind(dir, v)
    let gradV = { (x: [Double]) in e.shaped(like: 1, grad[1], at: x) }
    let gradW = { (x: [Double]) in e.shaped(like: 0, grad[0], at: x) }
    results.append(
      Comparison(
        "H_t v_t", e.shaped(like: 1, hvp, at: x, inputs: vIn),
        FiniteDifferences.directional(gradV, at: x, along: v), tolerance: 1e-6, floor: 1e-10))
    results.append(
      Comparison(
        "Σ_t (∂²L_t/∂W∂V[t]) v_t", e.shaped(like: 0, mixed, at: x, inputs: vIn),
        FiniteDifferences.directional(gradW, at: x, along: v), tolerance: 1e-6, floor: 1e-10))
    Self.expectPassed(results, "per-task inner loss")

    // The battery on Σ_t L_t written as a task reduction.
    h.setOutput(h.graph.make(.taskReduce(.sum), [loss]))
    Self.expectPassed(DerivativeBattery.run(&h, seed: 42), "battery on sum over t: L_t")
  }
}
