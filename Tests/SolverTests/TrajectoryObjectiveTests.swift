import BilevelCore
import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

@testable import BilevelSolvers

/// `outer loss = … over trajectory` (survey eq. 12, w_t = 1): the objective
/// Σ_{t=1..T} L_out(θ_t, φ). References: the inner gd steps and the losses
/// written out in plain Swift, and for a two-task LSTM rule the sum over
/// programs unrolled to k = 1 … T steps; central differences of each.
@Suite struct TrajectoryObjectiveTests {
  static let X: [[Double]] = [
    [1.0, 0.5, -0.3], [0.2, -1.0, 0.8], [0.7, 0.1, 0.4], [-0.5, 0.3, 1.2],
  ]
  static let y: [Double] = [1.0, -0.5, 0.3, 0.8]
  static let steps = 5
  static let lr = 0.1

  static let ridge = """
    data X = \(SolverFixtures.literal(rows: X))
    data y = \(SolverFixtures.literal(y))
    outer a: scalar = 0.1
    outer c: vector[3] = [0.2, -0.1, 0.3]
    inner w: vector[3] = c
    inner loss = 0.5 * sum((X @ w - y)^2) + 0.5 * exp(a) * sum(w^2)
    outer loss = 0.5 * sum((X @ w - y + 0.1)^2) + 0.1 * a^2 over trajectory
    solve inner with gd(lr: \(lr), steps: \(steps))
    hypergradient with unroll(reverse)
    solve outer with gd(lr: 0.1, steps: 1)
    """

  /// θ_t by hand: w ← w − lr (Xᵀ(Xw − y) + e^a w) from w₀ = c; the loss at each of θ_1 … θ_T.
  static func byHand(_ phi: [Double], weights: [Double]? = nil) -> Double {
    let a = phi[0]
    var w = Array(phi[1...3])
    var total = 0.0
    let Xt = PlainAlgebra.transpose(X)
    for k in 0..<steps {
      let Xw = PlainAlgebra.multiply(X, w)
      let r: [Double] = (0..<y.count).map { Xw[$0] - y[$0] }
      let g = PlainAlgebra.multiply(Xt, r)
      let decay = exp(a)
      w = (0..<3).map { (i: Int) -> Double in w[i] - lr * (g[i] + decay * w[i]) }
      let Xw1 = PlainAlgebra.multiply(X, w)
      var squares = 0.0
      for i in 0..<y.count { squares += (Xw1[i] - y[i] + 0.1) * (Xw1[i] - y[i] + 0.1) }
      total += (weights?[k] ?? 1) * (0.5 * squares + 0.1 * a * a)
    }
    return total
  }

  @Test func objectiveIsTheSumOfPerStepLossesAndMethodsAgree() throws {
    let problem = try SolverFixtures.problem(Self.ridge)
    let phi = [0.25, 0.3, -0.2, 0.1]
    let reverse = try problem.hypergradient(.unrollReverse(checkpoints: nil), at: phi)
    #expect(abs(reverse.outerLoss - Self.byHand(phi)) <= 1e-12 * abs(Self.byHand(phi)))
    // The last point's loss alone is not the objective.
    let last = SolverChecks.outerLoss(problem, try SolverChecks.unrolledTheta(problem, phi), phi)
    #expect(abs(reverse.outerLoss - last) > 1e-3)
    let differences = try SolverChecks.centralDifferences({ Self.byHand($0) }, at: phi)
    #expect(SolverChecks.relativeError(reverse.gradient, differences) <= 1e-7)
    let forward = try problem.hypergradient(.unrollForward, at: phi)
    #expect(SolverChecks.relativeError(forward.gradient, reverse.gradient) <= 1e-10)
    #expect(abs(forward.outerLoss - reverse.outerLoss) <= 1e-12)
    for k in [1, 2, Self.steps] {
      let checkpointed = try problem.hypergradient(.unrollReverse(checkpoints: k), at: phi)
      #expect(SolverChecks.relativeError(checkpointed.gradient, reverse.gradient) <= 1e-10)
      #expect(checkpointed.outerLoss == reverse.outerLoss)
    }
  }

  /// `over trajectory(weights: v)`: w_t from a data vector of length T.
  @Test func weightedObjective() throws {
    let v = [0.1, 0.0, 0.5, 2.0, 1.5]
    let text =
      "data v = \(SolverFixtures.literal(v))\n"
      + Self.ridge.replacingOccurrences(of: "over trajectory", with: "over trajectory(weights: v)")
    let problem = try SolverFixtures.problem(text)
    let phi = [-0.1, 0.1, 0.4, -0.3]
    let hand = { (x: [Double]) in Self.byHand(x, weights: v) }
    let reverse = try problem.hypergradient(.unrollReverse(checkpoints: nil), at: phi)
    #expect(abs(reverse.outerLoss - hand(phi)) <= 1e-12 * abs(hand(phi)))
    #expect(abs(reverse.outerLoss - Self.byHand(phi)) > 1e-3)
    let differences = try SolverChecks.centralDifferences(hand, at: phi)
    #expect(SolverChecks.relativeError(reverse.gradient, differences) <= 1e-7)
    let forward = try problem.hypergradient(.unrollForward, at: phi)
    #expect(SolverChecks.relativeError(forward.gradient, reverse.gradient) <= 1e-10)
    let checkpointed = try problem.hypergradient(.unrollReverse(checkpoints: 2), at: phi)
    #expect(SolverChecks.relativeError(checkpointed.gradient, reverse.gradient) <= 1e-10)
  }

  /// Two tasks of RecurrentRuleTests' LSTM rule: the objective against the
  /// sum of the same program's last-point losses unrolled to k = 1 … T steps.
  @Test func lstmRuleOverTheTrajectoryMatchesCentralDifferences() throws {
    let T = RecurrentRuleTests.steps
    func program(steps: Int, trajectory: Bool) -> String {
      RecurrentRuleTests.lstm
        .replacingOccurrences(of: "steps: \(T))", with: "steps: \(steps))")
        .replacingOccurrences(
          of: "- y[t])^2)\n", with: "- y[t])^2)\(trajectory ? " over trajectory" : "")\n")
    }
    let problem = try SolverFixtures.problem(program(steps: T, trajectory: true))
    #expect(problem.overTrajectory)
    let prefixes = try (1...T).map { k in
      try SolverFixtures.problem(program(steps: k, trajectory: false))
    }
    func summed(_ phi: [Double]) throws -> Double {
      try prefixes.reduce(0) {
        $0 + SolverChecks.outerLoss($1, try SolverChecks.unrolledTheta($1, phi), phi)
      }
    }
    let phi = RecurrentRuleTests.point(problem)
    let reverse = try problem.hypergradient(.unrollReverse(checkpoints: nil), at: phi)
    #expect(abs(reverse.outerLoss - (try summed(phi))) <= 1e-12 * abs(reverse.outerLoss))
    let differences = try SolverChecks.centralDifferences(summed, at: phi)
    #expect(SolverChecks.relativeError(reverse.gradient, differences) <= 1e-7)
    let forward = try problem.hypergradient(.unrollForward, at: phi)
    #expect(SolverChecks.relativeError(forward.gradient, reverse.gradient) <= 1e-10)
    let checkpointed = try problem.hypergradient(.unrollReverse(checkpoints: 2), at: phi)
    #expect(SolverChecks.relativeError(checkpointed.gradient, reverse.gradient) <= 1e-10)
  }

  /// Methods that do not unroll every step refuse the objective, with the reason.
  @Test func otherMethodsRefuseTheTrajectory() throws {
    let sizes = ProblemSizes(try SolverFixtures.problem(Self.ridge).source)
    #expect(sizes.trajectory)
    for method: HypergradientMethod in [
      .truncated(steps: 2), .firstOrder, .implicitExact, .closedForm,
      .implicitConjugateGradient(iterations: 10, tolerance: 1e-8),
    ] {
      #expect(method.record.inapplicable(sizes)?.contains("summed over the trajectory") == true)
    }
    for method: HypergradientMethod in [
      .unrollReverse(checkpoints: nil), .unrollReverse(checkpoints: 2), .unrollForward,
    ] {
      #expect(method.record.inapplicable(sizes) == nil)
    }
  }
}
