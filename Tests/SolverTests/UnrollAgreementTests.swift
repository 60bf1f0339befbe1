import BilevelFrontEnd
import BilevelSolvers
import TestSupport
import Testing

/// unroll(reverse), unroll(forward) and the checkpointed reverse sweep
/// differentiate the same unrolled map: forward agrees with reverse to
/// rounding, and checkpointing replays the same arithmetic, so it agrees
/// bit for bit.
@Suite struct UnrollAgreementTests {
  @Test(arguments: UnrolledTestPrograms.cases)
  func reverseForwardAndCheckpointedAgree(_ label: String) throws {
    let problem = try UnrolledTestPrograms.problem(label)
    let phi = UnrolledTestPrograms.point(problem)
    let T = UnrolledTestPrograms.steps
    #expect(InnerSolver(problem).fixedSteps == T)

    let reverse = try problem.hypergradient(.unrollReverse(checkpoints: nil), at: phi)
    let forward = try problem.hypergradient(.unrollForward, at: phi)
    #expect(reverse.gradient.count == problem.outerSize)
    // Every entry of φ (lr, weight decay, the start) moves the unrolled map.
    #expect(reverse.gradient.allSatisfy { abs($0) > 1e-8 }, "\(reverse.gradient)")
    let error = SolverChecks.relativeError(forward.gradient, reverse.gradient)
    #expect(error <= 1e-10, "\(label): forward \(forward.gradient) vs reverse \(reverse.gradient)")
    #expect(abs(forward.outerLoss - reverse.outerLoss) <= 1e-14 * abs(reverse.outerLoss))

    for k in [1, 2, 5, T] {
      let checkpointed = try problem.hypergradient(.unrollReverse(checkpoints: k), at: phi)
      #expect(
        checkpointed.gradient.map(\.bitPattern) == reverse.gradient.map(\.bitPattern),
        "\(label), \(k) checkpoints: \(checkpointed.gradient) vs \(reverse.gradient)")
      #expect(checkpointed.outerLoss.bitPattern == reverse.outerLoss.bitPattern)
      for t in 0..<problem.tasks {
        #expect(checkpointed.theta[t].map(\.bitPattern) == reverse.theta[t].map(\.bitPattern))
      }
    }

    // truncated(T) reverses through every step, θ₀ included: the full unroll.
    let truncated = try problem.hypergradient(.truncated(steps: T), at: phi)
    #expect(SolverChecks.relativeError(truncated.gradient, reverse.gradient) <= 1e-12)
  }

  /// The final θ of each method is the inner solver's own θ_T.
  @Test(arguments: ["momentum", "tasks/adam"])
  func methodsReportTheUnrolledTheta(_ label: String) throws {
    let problem = try UnrolledTestPrograms.problem(label)
    let phi = UnrolledTestPrograms.point(problem)
    let theta = try SolverChecks.unrolledTheta(problem, phi)
    for method: HypergradientMethod in [
      .unrollReverse(checkpoints: nil), .unrollReverse(checkpoints: 3), .unrollForward,
    ] {
      let result = try problem.hypergradient(method, at: phi)
      #expect(result.theta.count == problem.tasks)
      for t in 0..<problem.tasks {
        #expect(
          result.theta[t].map(\.bitPattern) == theta[t].map(\.bitPattern), "\(method.description)")
      }
      #expect(result.innerSteps == UnrolledTestPrograms.steps)
      let value = SolverChecks.outerLoss(problem, theta, phi)
      #expect(abs(result.outerLoss - value) <= 1e-14 * abs(value))
    }
  }
}
