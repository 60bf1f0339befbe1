import BilevelFrontEnd
import BilevelSolvers
import TestSupport
import Testing

/// The checkpointed reverse sweep's figures at T = 1000 on a one-entry
/// problem: at most k + 2 states held (snapshots, the working state, the
/// cotangent), exactly the binomial optimum's recomputation plus the one
/// step to s_T, and the same bits as the plain reverse sweep, which holds
/// every state.
@Suite struct CheckpointMemoryTests {
  static let T = 1000
  static let text = """
    outer loglr: scalar = -3
    outer c: scalar = 0.7
    inner w: scalar = c
    inner loss = 0.5 * (w - 1)^2 + 0.1 * log(1 + w^2)
    outer loss = (w - 0.5)^2 + 0.1 * c^2
    solve inner with momentum(lr: exp(loglr), steps: \(T), momentum: 0.5)
    hypergradient with unroll(reverse)
    solve outer with gd(lr: 0.1, steps: 1)
    """

  @Test(arguments: [1, 3, 10, 40])
  func checkpointedSweepHoldsFewStatesAndRecomputesOptimally(_ k: Int) throws {
    let problem = try SolverFixtures.problem(Self.text)
    let phi = problem.initialOuter()
    let plain = try problem.hypergradient(.unrollReverse(checkpoints: nil), at: phi)
    let checkpointed = try problem.hypergradient(.unrollReverse(checkpoints: k), at: phi)
    #expect(checkpointed.peakStates <= k + 2, "k = \(k): \(checkpointed.peakStates) states")
    #expect(
      checkpointed.forwardSteps == CheckpointSchedule.optimalRecomputation(
        steps: Self.T, snapshots: k) + 1,
      "k = \(k): \(checkpointed.forwardSteps) steps")
    #expect(checkpointed.gradient.map(\.bitPattern) == plain.gradient.map(\.bitPattern))
    #expect(checkpointed.outerLoss.bitPattern == plain.outerLoss.bitPattern)
    #expect(plain.gradient.allSatisfy { $0 != 0 && $0.isFinite }, "\(plain.gradient)")
  }

  @Test func plainReverseSweepHoldsEveryState() throws {
    let problem = try SolverFixtures.problem(Self.text)
    let plain = try problem.hypergradient(
      .unrollReverse(checkpoints: nil), at: problem.initialOuter())
    // s_0 … s_T: T + 1 states (plus the cotangent).
    #expect(plain.peakStates >= Self.T + 1, "\(plain.peakStates)")
    #expect(plain.peakStates <= Self.T + 2, "\(plain.peakStates)")
    #expect(plain.forwardSteps == Self.T)
    // Forward mode holds the tangents instead, one per outer entry.
    let forward = try problem.hypergradient(.unrollForward, at: problem.initialOuter())
    #expect(forward.peakStates < 10)
    #expect(SolverChecks.relativeError(forward.gradient, plain.gradient) <= 1e-10)
  }

  /// With at least T − 1 snapshots nothing is recomputed: T steps, as plain.
  @Test func enoughSnapshotsRecomputeNothing() throws {
    let problem = try SolverFixtures.problem(Self.text)
    let result = try problem.hypergradient(
      .unrollReverse(checkpoints: Self.T), at: problem.initialOuter())
    #expect(result.forwardSteps == Self.T)
    #expect(result.peakStates <= Self.T + 2)
  }
}
