import BilevelFrontEnd
import BilevelSolvers
import TestSupport
import Testing

/// The built-in Newton reaches its tolerance on a well-conditioned problem
/// (rounding of the loss does not stall it), and `newton(steps: K)` runs K
/// full steps.
@Suite struct NewtonConvergenceTests {
  /// Regularised logistic regression, d = 20: strongly convex, condition number ≈ 10.
  static func text(_ solver: String) -> String {
    TestPrograms.logistic(innerSolver: solver, outerSteps: 1)
  }

  @Test(arguments: [1e-10, 1e-12, 1e-13])
  func reachesItsTolerance(_ tol: Double) throws {
    let problem = try SolverFixtures.problem(Self.text("newton(tol: \(tol), max_steps: 50)"))
    let solution = try InnerSolver(problem).solve(problem.initialOuter())
    #expect(
      solution.residual <= tol, "‖∇θ L_in‖ = \(solution.residual) after \(solution.steps) steps")
    #expect(solution.steps < 50)
    #expect(!solution.stoppedAboveTolerance)
  }

  @Test func runsExactlyTheStepsAsked() throws {
    for k in [1, 2, 3] {
      let problem = try SolverFixtures.problem(Self.text("newton(steps: \(k))"))
      let solution = try InnerSolver(problem).solve(problem.initialOuter())
      #expect(solution.steps == k)
      #expect(!solution.stoppedAboveTolerance, "a fixed step count is not a failure to converge")
    }
    // Full steps: one Newton step from w = 0 is θ₁ = −H(0)⁻¹ g(0), whatever the loss does along it.
    let one = try SolverFixtures.problem(Self.text("newton(steps: 1, cg_iters: 200)"))
    let phi = one.initialOuter()
    let theta = try InnerSolver(one).solve(phi).theta[0]
    let g0 = one.innerGradient(0)([.theta: [Double](repeating: 0, count: 20), .phi: phi])[.gradient]
    let h = (0..<20).map { j in
      one.hessianVector(0)([
        .theta: [Double](repeating: 0, count: 20), .phi: phi, .direction: Dense.unit(j, 20),
      ])[.product]
    }
    let step = PlainAlgebra.solve(h, g0.map { -$0 })
    #expect(SolverChecks.relativeError(theta, step) <= 1e-9)
  }

  @Test func stoppingAtMaxStepsAboveTheToleranceIsReported() throws {
    let problem = try SolverFixtures.problem(Self.text("newton(tol: 1e-12, max_steps: 1)"))
    let solution = try InnerSolver(problem).solve(problem.initialOuter())
    #expect(solution.steps == 1)
    #expect(solution.residual > 1e-12)
    #expect(solution.stoppedAboveTolerance)
  }
}
