import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation
import TestSupport
import Testing

/// Schedules, gradient clipping and stopping tolerances of the inner and
/// outer solvers: the inner steps against the same steps written out here,
/// the unrolled hypergradients against central differences of the map they
/// differentiate (the steps actually taken), and the outer solver's moves.
@Suite struct StepControlsTests {
  static let a = [2.5, -3.0, 1.5]
  static let b = [-0.3, 0.9, 1.1]

  /// L_in = ½ Σ e^λ (w − a)², L_out = ½ Σ (w − b)² + 0.05 Σ λ²; w starts at 0,
  /// far enough from a that a clip of 1 is active for the first steps.
  static func text(
    inner: String, method: String = "unroll(reverse)", outer: String? = nil
  )
    -> String
  {
    """
    data a = \(SolverFixtures.literal(a))
    data b = \(SolverFixtures.literal(b))
    outer lam: vector[3] = [0.1, -0.2, 0.3]
    inner w: vector[3] = 0
    inner loss = 0.5 * sum(exp(lam) * (w - a)^2)
    outer loss = 0.5 * sum((w - b)^2) + 0.05 * sum(lam^2)
    solve inner with \(inner)
    hypergradient with \(method)
    solve outer with \(outer ?? "gd(lr: 0.3, steps: 5)")
    """
  }

  /// The same gd steps by hand: lr × the schedule's factor, the gradient clipped
  /// to norm `clip`, stopping once ‖∇θ L_in‖ ≤ tol.
  static func handGD(
    _ lam: [Double], lr: Double, steps: Int, factor: (Int) -> Double, clip: Double?,
    tol: Double?
  ) -> (w: [Double], taken: Int) {
    var w = [0.0, 0.0, 0.0]
    for k in 0..<steps {
      var g = (0..<3).map { exp(lam[$0]) * (w[$0] - a[$0]) }
      let n = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
      if let tol, n <= tol { return (w, k) }
      if let c = clip, n > c { g = g.map { $0 * c / n } }
      w = (0..<3).map { w[$0] - lr * factor(k) * g[$0] }
    }
    return (w, steps)
  }

  /// A setting string, the factor it puts on lr at step k, its clip and tol.
  struct Case: Sendable, CustomTestStringConvertible {
    let settings: String
    let factor: @Sendable (Int) -> Double
    var clip: Double? = nil
    var tol: Double? = nil
    var testDescription: String { settings }
  }

  static let cases: [Case] = [
    Case(
      settings: "schedule: cosine", factor: { k in 0.5 * (1 + cos(Double.pi * Double(k) / 12)) }),
    Case(
      settings: "schedule: step, every: 4, decay: 0.3", factor: { k in pow(0.3, Double(k / 4)) }),
    Case(settings: "warmup: 5", factor: { k in min(1, Double(k + 1) / 5) }),
    Case(settings: "clip: 1", factor: { _ in 1 }, clip: 1),
    Case(settings: "tol: 0.05, warmup: 3", factor: { k in min(1, Double(k + 1) / 3) }, tol: 0.05),
  ]

  @Test(arguments: cases)
  func innerStepsEqualTheHandWrittenOnes(_ c: Case) throws {
    let count = c.tol == nil ? "steps: 12" : "max_steps: 12"
    let problem = try SolverFixtures.problem(
      Self.text(inner: "gd(lr: 0.4, \(count), \(c.settings))"))
    let lam = [0.1, -0.2, 0.3]
    let solution = try InnerSolver(problem).solve(lam)
    let hand = Self.handGD(lam, lr: 0.4, steps: 12, factor: c.factor, clip: c.clip, tol: c.tol)
    #expect(SolverChecks.relativeError(solution.theta[0], hand.w) <= 1e-14, "\(c.settings)")
    #expect(solution.steps == hand.taken)
    if c.tol != nil { #expect(hand.taken < 12 && hand.taken > 2, "the tolerance stops mid-way") }
  }

  /// The unrolled methods differentiate the scheduled, clipped steps actually
  /// taken: their hypergradient equals central differences of that map.
  @Test(arguments: [
    "gd(lr: 0.4, steps: 12, schedule: cosine, clip: 1)",
    "gd(lr: 0.4, max_steps: 30, tol: 0.05, schedule: step, every: 10, decay: 0.8)",
    "momentum(lr: 0.1, steps: 10, momentum: 0.7, warmup: 4, clip: 2)",
    "adam(lr: 0.5, max_steps: 80, tol: 0.3, schedule: cosine)",
    "momentum(lr: 0.1, max_steps: 60, tol: 0.05, momentum: 0.5, schedule: cosine)",
  ])
  func unrolledGradientMatchesCentralDifferences(_ inner: String) throws {
    let phi = [0.1, -0.2, 0.3]
    var gradients: [[Double]] = []
    for method in ["unroll(reverse)", "unroll(forward)"] {
      let problem = try SolverFixtures.problem(Self.text(inner: inner, method: method))
      let hypergradient = try #require(problem.source.hypergradient?.spec.method)
      let result = try problem.hypergradient(hypergradient, at: phi)
      let T = InnerSolver(problem).fixedSteps ?? 0
      if inner.contains("tol") { #expect(result.innerSteps < T, "\(inner): stops early") }
      let reference = try SolverChecks.centralDifferences(
        { p in
          var runner = FixedStepRunner(problem, task: 0, steps: T)
          let theta = Array(try runner.run(p).prefix(problem.innerSize))
          return SolverChecks.outerLoss(problem, [theta], p)
        }, at: phi)
      #expect(
        SolverChecks.relativeError(result.gradient, reference) <= 1e-7,
        "\(inner), \(method): \(result.gradient) vs \(reference)")
      gradients.append(result.gradient)
    }
    #expect(SolverChecks.relativeError(gradients[0], gradients[1]) <= 1e-11)
  }

  @Test func outerSolverClipsSchedulesAndStops() throws {
    // One outer gd step by hand: lr × cosine factor, the hypergradient clipped to 0.01.
    let problem = try SolverFixtures.problem(
      Self.text(
        inner: "gd(lr: 0.4, steps: 12)",
        outer: "gd(lr: 0.3, steps: 4, schedule: cosine, clip: 0.01)"))
    let method = try #require(problem.source.hypergradient?.spec.method)
    var seen: [BilevelRun.Progress] = []
    var gradients: [[Double]] = []
    let report = BilevelRun(problem: problem, method: method).run { p in
      seen.append(p)
      return true
    }
    #expect(report.fault == nil)
    for k in 0..<4 {
      let g = try problem.hypergradient(method, at: seen[k].phi).gradient
      gradients.append(g)
      let n = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
      let scale = n > 0.01 ? 0.01 / n : 1
      let rate = 0.3 * 0.5 * (1 + cos(Double.pi * Double(k) / 4))
      let next = (0..<3).map { seen[k].phi[$0] - rate * scale * g[$0] }
      #expect(SolverChecks.relativeError(seen[k + 1].phi, next) <= 1e-15, "step \(k)")
    }
    #expect(gradients[0].reduce(0) { $0 + $1 * $1 }.squareRoot() > 0.01, "the clip is active")
    // tol: the run stops at the first hypergradient at most tol long.
    let plain = try SolverFixtures.problem(
      Self.text(inner: "gd(lr: 0.4, steps: 12)", outer: "gd(lr: 0.3, steps: 6)"))
    var norms: [Double] = []
    _ = BilevelRun(problem: plain, method: method).run { p in
      norms.append(p.gradientNorm)
      return true
    }
    let tol = norms[3] * (1 + 1e-12)
    let first = try #require(norms.firstIndex { $0 <= tol })
    let stopping = try SolverFixtures.problem(
      Self.text(inner: "gd(lr: 0.4, steps: 12)", outer: "gd(lr: 0.3, steps: 6, tol: \(tol))"))
    let early = BilevelRun(problem: stopping, method: method).run()
    #expect(early.converged && early.stepsDone == first && first <= 3)
  }

  @Test(arguments: [
    "gd(lr: 0.4, steps: 12, max_steps: 12, tol: 0.1)", "gd(lr: 0.4, steps: 12, tol: 0.1)",
    "gd(lr: 0.4, max_steps: 12)", "gd(lr: 0.4)",
    "gd(lr: 0.4, steps: 1, every: 3)",
  ])
  func inconsistentStoppingSettingsAreErrors(_ inner: String) {
    #expect(throws: (any Error).self) { try SolverFixtures.program(Self.text(inner: inner)) }
  }

  @Test(arguments: [
    ("gd(lr: 0.4, steps: 1, clip: 1)", "finite_difference"),
    ("gd(lr: 0.4, max_steps: 12, tol: 0.1)", "truncated(3)"),
    ("gd(lr: 0.4, max_steps: 12, tol: 0.1)", "unroll(reverse, checkpoints: 2)"),
  ])
  func methodsThatNeedPlainOrCountedStepsRefuse(_ inner: String, _ method: String) {
    #expect(throws: (any Error).self) {
      try SolverFixtures.program(Self.text(inner: inner, method: method))
    }
  }
}

/// A learning rate with one entry per entry of θ over several inner arrays
/// (Meta-SGD on a two-layer network) or one per array (per layer): the steps
/// against the same steps written out, the unrolled hypergradient against
/// central differences.
@Suite struct PerVariableRateTests {
  static func text(lr: String, outer: String) -> String {
    """
    data X = randn(12, 3, seed: 7)
    data y = sin(X @ [0.5, -1.0, 0.8])
    data W0 = 0.4 * randn(3, 4, seed: 8)
    \(outer)
    inner W: matrix[3, 4] = W0
    inner v: vector[4] = 0.1
    inner loss = mean((tanh(X @ W) @ v - y)^2)
    outer loss = mean((tanh(X @ W) @ v - 0.9 * y)^2)
    solve inner with gd(lr: \(lr), steps: 3)
    hypergradient with unroll(reverse)
    solve outer with gd(lr: 0.1, steps: 2)
    """
  }

  static let programs = [
    // Meta-SGD: 12 + 4 learning rates, in θ's order (W row-major, then v).
    text(lr: "exp(a)", outer: "outer a: vector[16] = -1 + 0.1 * randn(16, seed: 9)"),
    // Per layer: one learned rate for W, another for v.
    text(
      lr: "concat(exp(a[1]) * ones(12), exp(a[2]) * ones(4))",
      outer: "outer a: vector[2] = [-1.2, -0.6]"),
  ]

  @Test(arguments: programs)
  func stepsUseEachEntrysRate(_ text: String) throws {
    let problem = try SolverFixtures.problem(text)
    let phi = problem.initialOuter()
    let rates: [Double] =
      phi.count == 16
      ? phi.map { exp($0) }
      : Array(repeating: exp(phi[0]), count: 12)
        + Array(repeating: exp(phi[1]), count: 4)
    // By hand: θ ← θ − r ⊙ ∇θ L_in, the gradient from the problem's own plan.
    var theta = problem.initial(0)([.phi: phi])[.theta]
    for _ in 0..<3 {
      let g = problem.innerGradient(0)([.theta: theta, .phi: phi])[.gradient]
      theta = (0..<16).map { theta[$0] - rates[$0] * g[$0] }
    }
    let solution = try InnerSolver(problem).solve(phi)
    #expect(SolverChecks.relativeError(solution.theta[0], theta) <= 1e-14)
  }

  @Test(arguments: programs)
  func unrolledGradientMatchesCentralDifferences(_ text: String) throws {
    let problem = try SolverFixtures.problem(text)
    let method = try #require(problem.source.hypergradient?.spec.method)
    let phi = problem.initialOuter()
    let result = try problem.hypergradient(method, at: phi)
    let reference = try SolverChecks.centralDifferences(
      { p in
        SolverChecks.outerLoss(problem, try SolverChecks.unrolledTheta(problem, p), p)
      }, at: phi)
    #expect(SolverChecks.relativeError(result.gradient, reference) <= 1e-8)
  }

  @Test func aRateOfAnotherLengthIsAnError() {
    let text = Self.text(lr: "exp(a)", outer: "outer a: vector[15] = -1")
    #expect(throws: (any Error).self) { try SolverFixtures.program(text) }
  }
}
