import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import TestSupport
import Testing

/// `auto` must not pick a method blind to how the inner solver depends on φ:
/// closed_form sees only the minimiser, so it gives 0 for a learned learning
/// rate or a flow's horizon, and it refuses warm starts.
@Suite struct AutoChoiceTests {
  static func program(solver: String, lr: String = "0.1") -> String {
    """
    dim n = 30, d = 5
    data X = randn(n, d, seed: 1)
    data y = randn(n, seed: 2)
    outer lam: scalar = -2
    outer loglr: scalar = -2
    inner w: vector[d] = 0
    inner loss = 0.5 * mean((X @ w - y)^2) + exp(lam) * sum(w^2)
    outer loss = mean((X @ w - y)^2) + 0 * loglr
    solve inner with \(solver)
    hypergradient with auto
    solve outer with gd(lr: 0.1, steps: 2)
    """
  }

  static func chosen(_ text: String) throws -> HypergradientMethod {
    MethodSelection(try SolverFixtures.problem(text)).method
  }

  @Test func aQuadraticInnerProblemWithFixedSettingsIsSolvedInClosedForm() throws {
    #expect(try Self.chosen(Self.program(solver: "gd(lr: 0.1, steps: 20)")) == .closedForm)
  }

  @Test func aLearnedLearningRateIsUnrolled() throws {
    let method = try Self.chosen(Self.program(solver: "gd(lr: exp(loglr), steps: 20)"))
    #expect(method == .unrollReverse(checkpoints: nil), "\(method)")
    // And closed_form would have been wrong there: it has no part in loglr.
    let problem = try SolverFixtures.problem(Self.program(solver: "gd(lr: exp(loglr), steps: 20)"))
    let phi = [-2.0, -2.0]
    let unrolled = try problem.hypergradient(.unrollReverse(checkpoints: nil), at: phi).gradient
    let closed = try problem.hypergradient(.closedForm, at: phi).gradient
    #expect(abs(unrolled[1]) > 1e-6 && closed[1] == 0, "\(unrolled) \(closed)")
  }

  @Test func aFlowIsDifferentiatedByItsAdjoint() throws {
    let method = try Self.chosen(Self.program(solver: "flow(horizon: exp(loglr), steps: 20)"))
    #expect(method == .adjoint, "\(method)")
  }

  @Test func aWarmStartIsNotSolvedInClosedForm() throws {
    let method = try Self.chosen(Self.program(solver: "gd(lr: 0.1, steps: 1, start: warm)"))
    #expect(method != .closedForm, "\(method)")
  }
}
