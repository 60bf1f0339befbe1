import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation
import TestSupport
import Testing

/// `start: warm`: the alternating scheme (one inner step per outer step, the
/// inner state carried over) against the same scheme written out here, and
/// its unrolled hypergradient against central differences of the one-step map.
@Suite struct WarmStartTests {
  static let a = [0.7, -1.2, 0.4]
  static let b = [-0.3, 0.9, 1.1]
  static let w0 = [0.5, -0.3, 0.2]

  /// L_in = ½ Σ e^λ (w − a)², L_out = ½ Σ (w − b)² + 0.05 Σ λ².
  static func text(
    inner: String, method: String = "unroll(reverse)", outerSteps: Int = 6
  )
    -> String
  {
    """
    data a = \(SolverFixtures.literal(a))
    data b = \(SolverFixtures.literal(b))
    outer lam: vector[3] = [0.1, -0.2, 0.3]
    inner w: vector[3] = \(SolverFixtures.literal(w0))
    inner loss = 0.5 * sum(exp(lam) * (w - a)^2)
    outer loss = 0.5 * sum((w - b)^2) + 0.05 * sum(lam^2)
    solve inner with \(inner)
    hypergradient with \(method)
    solve outer with gd(lr: 0.3, steps: \(outerSteps))
    """
  }

  static func run(_ problem: BilevelProblem) throws -> (BilevelRun.Report, [BilevelRun.Progress]) {
    let method = try #require(problem.source.hypergradient?.spec.method)
    var seen: [BilevelRun.Progress] = []
    let report = BilevelRun(problem: problem, method: method).run {
      seen.append($0)
      return true
    }
    #expect(report.fault == nil, "\(report.fault?.message ?? "")")
    return (report, seen)
  }

  @Test(arguments: ["unroll(reverse)", "unroll(forward)", "unroll(reverse, checkpoints: 1)"])
  func gdOneStepEqualsTheHandWrittenScheme(_ method: String) throws {
    let eta = 0.4
    let problem = try SolverFixtures.problem(
      Self.text(inner: "gd(lr: \(eta), steps: 1, start: warm)", method: method))
    let (report, seen) = try Self.run(problem)
    // By hand: w' = w − η e^λ (w − a); g = (w' − b) ⊙ ∂w'/∂λ + 0.1 λ, the start w held.
    var lam = [0.1, -0.2, 0.3]
    var w = Self.w0
    for k in 0...6 {
      let next = (0..<3).map { w[$0] - eta * exp(lam[$0]) * (w[$0] - Self.a[$0]) }
      let g = (0..<3).map {
        (next[$0] - Self.b[$0]) * (-eta * exp(lam[$0]) * (w[$0] - Self.a[$0])) + 0.1 * lam[$0]
      }
      #expect(SolverChecks.relativeError(seen[k].phi, lam) <= 1e-13, "φ at step \(k)")
      #expect(SolverChecks.relativeError(seen[k].theta[0], next) <= 1e-13, "θ at step \(k)")
      if k == 6 {
        #expect(SolverChecks.relativeError(try #require(report.final).gradient, g) <= 1e-12)
      }
      lam = (0..<3).map { lam[$0] - 0.3 * g[$0] }
      w = next
    }
    // The run hands the state back: the problem starts cold again afterwards.
    #expect(problem.carried == nil)
  }

  /// With a tolerance each outer step takes the steps gd needs (at most
  /// max_steps, none once ‖∇θ L_in‖ ≤ tol) from the carried w, and the
  /// unrolled methods differentiate exactly those: w_j = a + (1 − η e^λ)^j (w − a).
  @Test(arguments: ["unroll(reverse)", "unroll(forward)"])
  func gdWithAToleranceEqualsTheHandWrittenScheme(_ method: String) throws {
    let (eta, tol, cap) = (0.4, 0.05, 4)
    let problem = try SolverFixtures.problem(
      Self.text(
        inner: "gd(lr: \(eta), max_steps: \(cap), tol: \(tol), start: warm)", method: method,
        outerSteps: 8))
    let (report, seen) = try Self.run(problem)
    var lam = [0.1, -0.2, 0.3]
    var w = Self.w0
    var counts: [Int] = []
    for k in 0...8 {
      var j = 0
      var next = w
      while j < cap {
        let norm = (0..<3).map { exp(lam[$0]) * (next[$0] - Self.a[$0]) }.reduce(0) { $0 + $1 * $1 }
        if norm.squareRoot() <= tol { break }
        next = (0..<3).map { next[$0] - eta * exp(lam[$0]) * (next[$0] - Self.a[$0]) }
        j += 1
      }
      counts.append(j)
      let g = (0..<3).map { i -> Double in
        let r = 1 - eta * exp(lam[i])
        let dw =
          j == 0 ? 0 : Double(j) * pow(r, Double(j - 1)) * (-eta * exp(lam[i])) * (w[i] - Self.a[i])
        return (next[i] - Self.b[i]) * dw + 0.1 * lam[i]
      }
      #expect(SolverChecks.relativeError(seen[k].phi, lam) <= 1e-12, "φ at step \(k)")
      #expect(SolverChecks.relativeError(seen[k].theta[0], next) <= 1e-12, "θ at step \(k)")
      if k == 8 {
        #expect(SolverChecks.relativeError(try #require(report.final).gradient, g) <= 1e-10)
      }
      lam = (0..<3).map { lam[$0] - 0.3 * g[$0] }
      w = next
    }
    // The tolerance bites: the first solve runs to the cap, later ones take fewer steps.
    #expect(counts.first == cap && counts.contains { $0 < cap }, "\(counts)")
    #expect(report.inner?.stepsTaken == counts.dropLast().reduce(0, +))
  }

  /// Tasks stopped by the tolerance at different steps carry their own
  /// counts, which continue Adam's bias corrections task by task.
  @Test func tasksCarryTheirOwnStepCounts() throws {
    let text = """
      tasks t in 1..2
      data a[t] = [0.7, -1.2, 0.4] * t
      outer lam: vector[3] = [0.1, -0.2, 0.3]
      inner w[t]: vector[3] = [0.5, -0.3, 0.2]
      inner loss[t] = 0.5 * sum(exp(lam) * (w[t] - a[t])^2)
      outer loss = mean over t: 0.5 * sum(w[t]^2) + 0.05 * sum(lam^2)
      solve inner with adam(lr: 0.3, max_steps: 6, tol: 0.3, start: warm)
      hypergradient with unroll(reverse)
      solve outer with gd(lr: 0.1, steps: 2)
      """
    let problem = try SolverFixtures.problem(text)
    let phi = problem.initialOuter()
    problem.carried = CarriedState(
      states: [[Double]](repeating: [0.5, -0.3, 0.2, 0, 0, 0, 0, 0, 0], count: 2), stepsTaken: 0)
    let result = try problem.hypergradient(.unrollReverse(checkpoints: nil), at: phi)
    let next = try problem.nextCarried(after: result, at: phi)
    var expected: [Int] = []
    for t in 0..<2 {
      var runner = FixedStepRunner(problem, task: t, steps: 6)
      #expect(next.states[t] == (try runner.run(phi)))
      expected.append(runner.stepsTaken)
    }
    #expect(expected[0] != expected[1], "\(expected)")
    #expect((0..<2).map { next.steps(of: $0) } == expected)
  }

  @Test func adamCarriesItsMomentsAndBiasCount() throws {
    let (lr, b1, b2, eps) = (0.05, 0.9, 0.999, 1e-8)
    let problem = try SolverFixtures.problem(
      Self.text(inner: "adam(lr: \(lr), steps: 2, start: warm)"))
    let (_, seen) = try Self.run(problem)
    // The inner iterates of the hand-written Adam, at the run's own φ of each outer step.
    var w = Self.w0
    var m = [0.0, 0.0, 0.0]
    var v = m
    var t = 0
    for k in seen.indices {
      let lam = seen[k].phi
      for _ in 0..<2 {
        t += 1
        for i in 0..<3 {
          let g = exp(lam[i]) * (w[i] - Self.a[i])
          m[i] = b1 * m[i] + (1 - b1) * g
          v[i] = b2 * v[i] + (1 - b2) * g * g
          let mHat = m[i] * (1 / (1 - pow(b1, Double(t))))
          let vHat = v[i] * (1 / (1 - pow(b2, Double(t))))
          w[i] -= lr * (mHat / (vHat.squareRoot() + eps))
        }
      }
      #expect(SolverChecks.relativeError(seen[k].theta[0], w) <= 1e-12, "θ at outer step \(k)")
    }
    #expect(t == 14)
  }

  /// The unrolled hypergradient of the map φ ↦ L_out(Φ(s, φ), φ) from a
  /// carried state s (momentum: θ and a non-zero velocity) equals its central differences.
  @Test(arguments: [
    "gd(lr: 0.4, steps: 1, start: warm)", "momentum(lr: 0.2, steps: 1, momentum: 0.8, start: warm)",
    "adam(lr: 0.05, steps: 3, start: warm)",
  ])
  func unrolledGradientMatchesCentralDifferencesOfTheStepMap(_ inner: String) throws {
    for method in ["unroll(reverse)", "unroll(forward)"] {
      let problem = try SolverFixtures.problem(Self.text(inner: inner, method: method))
      let hypergradient = try #require(problem.source.hypergradient?.spec.method)
      let carried = (0..<problem.stateSize).map { 0.3 * sin(Double($0) + 1) }
      problem.carried = CarriedState(states: [carried], stepsTaken: 5)
      let phi = [0.2, -0.1, 0.4]
      let result = try problem.hypergradient(hypergradient, at: phi)
      let steps = InnerSolver(problem).fixedSteps ?? 0
      let reference = try SolverChecks.centralDifferences(
        { p in
          var runner = FixedStepRunner(problem, task: 0, steps: steps)
          let theta = Array(try runner.run(p).prefix(problem.innerSize))
          return SolverChecks.outerLoss(problem, [theta], p)
        }, at: phi)
      #expect(
        SolverChecks.relativeError(result.gradient, reference) <= 1e-8,
        "\(inner), \(method): \(result.gradient) vs \(reference)")
      // The start is the carried state, not θ₀: the first step starts from it.
      #expect(result.theta[0] != Self.w0)
    }
  }

  @Test func resumingCarriesTheInnerState() throws {
    let text = Self.text(inner: "momentum(lr: 0.2, steps: 1, momentum: 0.8, start: warm)")
    let problem = try SolverFixtures.problem(text)
    let method = try #require(problem.source.hypergradient?.spec.method)
    let whole = BilevelRun(problem: problem, method: method).run()
    let first = BilevelRun(problem: problem, method: method).run { $0.step < 3 }
    #expect(first.stepsDone == 3)
    let inner = try #require(first.inner)
    #expect(inner.stepsTaken == 3)
    let resumed = BilevelRun(problem: problem, method: method).run(
      from: BilevelRun.ResumePoint(
        step: first.stepsDone, phi: first.phi, optimizer: first.optimizer, inner: inner))
    #expect(resumed.phi == whole.phi)
    #expect(resumed.final?.theta == whole.final?.theta)
  }

  @Test func warmStartErrorsAreLocated() throws {
    let closed = Self.text(inner: "gd(lr: 0.4, steps: 1, start: warm)", method: "closed_form")
    #expect(throws: (any Error).self) { try SolverFixtures.program(closed) }
    let fromOuter = Self.text(inner: "gd(lr: 0.4, steps: 1, start: warm)").replacingOccurrences(
      of: "inner w: vector[3] = \(SolverFixtures.literal(Self.w0))",
      with: "inner w: vector[3] = lam"
    )
    #expect(throws: (any Error).self) { try SolverFixtures.program(fromOuter) }
    #expect(throws: (any Error).self) {
      try SolverFixtures.program(Self.text(inner: "newton(tol: 1e-10, start: warm)"))
    }
  }
}

/// Every method that runs the inner solver hands the same carried state on:
/// the state the steps reach, whether kept by the method or retaken.
@Suite struct WarmStartHandOverTests {
  @Test(arguments: [
    "first_order", "implicit(cg, iters: 10)", "evograd(3, sigma: 0.01)", "unroll(forward)",
  ])
  func theCarriedStateIsTheStepsEnd(_ method: String) throws {
    let text = WarmStartTests.text(inner: "gd(lr: 0.4, steps: 2, start: warm)", method: method)
    let problem = try SolverFixtures.problem(text)
    let hypergradient = try #require(problem.source.hypergradient?.spec.method)
    problem.carried = CarriedState(states: [[0.9, -0.4, 0.6]], stepsTaken: 2)
    let phi = [0.2, -0.1, 0.4]
    let result = try problem.hypergradient(hypergradient, at: phi)
    let next = try problem.nextCarried(after: result, at: phi)
    var runner = FixedStepRunner(problem, task: 0, steps: 2)
    #expect(next.states == [try runner.run(phi)])
    #expect(next.stepsTaken == 4)
  }
}
