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

  /// A step with residuals (the logistic margins X w, 20 wide enough to tape): each snapshot keeps its
  /// step's residuals from the advance out of it, so only the steps an advance
  /// reaches are retaken; the bits stay those of the plain tape, and the memory
  /// is the k + 2 states and k + 1 steps' residuals the estimate states.
  static let residualText = """
    data X = randn(30, 20, seed: 3)
    data y = 0.5 + 0.5 * tanh(3 * randn(30, seed: 4))
    outer loglam: scalar = -2
    inner w: vector[20] = 0
    inner loss = mean(log(1 + exp(X @ w)) - y * (X @ w)) + exp(loglam) * sum(w^2)
    outer loss = mean((X @ w - y)^2)
    solve inner with momentum(lr: 0.5, steps: 300, momentum: 0.5)
    hypergradient with unroll(reverse)
    solve outer with gd(lr: 0.1, steps: 1)
    """

  @Test(arguments: [1, 2, 5, 20, 299])
  func snapshotsKeepTheirStepsResiduals(_ k: Int) throws {
    let problem = try SolverFixtures.problem(Self.residualText)
    try #require(problem.residualSize > 0)
    let phi = problem.initialOuter()
    let plain = try problem.hypergradient(.unrollReverse(checkpoints: nil), at: phi)
    let checkpointed = try problem.hypergradient(.unrollReverse(checkpoints: k), at: phi)
    #expect(checkpointed.gradient.map(\.bitPattern) == plain.gradient.map(\.bitPattern))
    let T = 300
    #expect(
      checkpointed.retakenSteps == CheckpointSchedule.retakenSteps(steps: T, snapshots: k),
      "k = \(k): \(checkpointed.retakenSteps) retaken")
    // Retaking every reversed step would be T; with 20 snapshots most come from one.
    #expect(checkpointed.retakenSteps < T)
    if k >= 20 { #expect(checkpointed.retakenSteps * 10 < T, "\(checkpointed.retakenSteps)") }
    #expect(plain.retakenSteps == 0)
    #expect(
      checkpointed.forwardSteps
        == CheckpointSchedule.optimalRecomputation(steps: T, snapshots: k) + 1)
    #expect(checkpointed.peakStates <= k + 2)
    #expect(
      checkpointed.peakDoubles
        <= (k + 2) * problem.stateSize + (k + 1) * problem.residualSize,
      "\(checkpointed.peakDoubles)")
    #expect(plain.gradient.allSatisfy { $0 != 0 && $0.isFinite }, "\(plain.gradient)")
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
