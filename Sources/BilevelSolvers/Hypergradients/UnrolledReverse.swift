import BilevelCore
import BilevelFrontEnd

/// `unroll(reverse)`, `unroll(reverse, checkpoints: k)` and `truncated(K)`:
/// reverse mode through the inner solver's steps. The cotangent u on the
/// state walks back, u_k = (∂Φ/∂s)ᵀ u_{k+1}, while g gathers (∂Φ/∂φ)ᵀ u_{k+1};
/// through every step the θ₀(φ) term closes the sum. Checkpointing replays
/// steps from k snapshots by the binomial schedule, with the same
/// arithmetic, so its result is bit-identical. Each snapshot keeps the
/// residuals of the step out of it, recorded on the advance that leaves it,
/// so only steps reached by an advance are retaken for their residuals.
struct UnrolledReverse {
  let problem: BilevelProblem
  /// Reverse through only the last K steps (nil: all).
  let truncation: Int?
  let checkpoints: Int?

  /// One task's forward sweep: what the reverse sweep needs. A value, owned
  /// by the thread that runs its task.
  struct Sweep: Sendable {
    var runner: FixedStepRunner
    /// Plain: s_{T−K} … s_{T−1} and each step's residuals. Checkpointed: unused.
    var tape: [[Double]] = []
    var residualTape: [[Double]] = []
    var final: [Double] = []
    /// Steps the forward sweep took (fewer than T when the tolerance stopped it).
    var taken = 0
    // Checkpointed replay state.
    /// The binomial schedule, made one action at a time; nil for the plain tape.
    var schedule: BinomialSchedule.Iterator? = nil
    /// The next action, read but not yet executed.
    var nextAction: CheckpointAction? = nil
    var slots: [[Double]?] = []
    /// The residuals of the step from each snapshot (valid once an advance has left it;
    /// the buffers are reused from snapshot to snapshot).
    var slotResiduals: [[Double]] = []
    var slotRecorded: [Bool] = []
    /// The slot just stored, whose residuals the next advance records.
    var unrecordedSlot: Int? = nil
    var working: [Double] = []
    /// The residuals of the step from the working state, when a restore or the last forward step gave them.
    var workingResiduals: [Double]? = nil
    var cost = Cost()
    init(_ runner: FixedStepRunner) { self.runner = runner }
  }

  /// What a sweep took, forward and reverse: for the result's report.
  struct Cost: Sendable {
    var forwardSteps = 0
    /// Steps run again only for their residuals (checkpointed reverse).
    var retakenSteps = 0
    var peakStates = 0
    var peakDoubles = 0
  }

  func compute(_ phi: [Double]) throws(SolverFault) -> HypergradientResult {
    let solver = InnerSolver(problem)
    let T = solver.fixedSteps ?? 0
    let K = min(truncation ?? T, T)
    // Forward sweeps, then (after the global outer gradient) reverse sweeps, each task on its own.
    let forward = try problem.eachTask { t throws(SolverFault) -> Sweep in
      var sweep = Sweep(FixedStepRunner(problem, task: t, steps: T))
      if let k = checkpoints, K == T, T > 0 {
        try forwardCheckpointed(&sweep, phi, snapshots: k)
      } else {
        try forwardTaped(&sweep, phi, keep: K)
      }
      return sweep
    }
    let theta = forward.map { Array($0.final.prefix(problem.innerSize)) }
    let finalStates = forward.map(\.final)
    let steps = forward.map(\.taken)
    let taken = steps.max() ?? 0
    // Over the trajectory (eq. 12): θ_1 … θ_T from the tape, or retaken when checkpointed.
    let objective: TrajectoryObjective? =
      problem.overTrajectory
      ? try TrajectoryObjective(
        problem, phi,
        trajectories: forward[0].schedule == nil
          ? forward.indices.map { t in
            (1..<max(T, 1)).map { Array(forward[t].tape[$0].prefix(problem.innerSize)) }
              + [theta[t]]
          }
          : TrajectoryObjective.trajectories(problem, phi, steps: T)) : nil
    // Each reverse sweep takes its task's sweep (so replay updates its snapshots in place).
    let sweeps = TaskParallel.Handoff(consume forward)
    let (loss, g0, thetaGradients) = try problem.outerTermsAtLastStep(
      theta, phi, objective: objective, steps: T)
    let perTask = try problem.eachTask {
      t throws(SolverFault) -> (part: [Double], residual: Double, cost: Cost) in
      var sweep = sweeps.take(t)
      sweep.runner.takeUp()
      let part = try reverseSweep(
        &sweep, task: t, phi, cotangent: thetaGradients[t],
        into: problem.accumulator(t, explicit: g0),
        steps: T, keep: K, trajectory: objective?.thetaGradients[t])
      return (part, try solver.residual(theta[t], phi, task: t), sweep.cost)
    }
    let costs = perTask.map(\.cost)
    var result = HypergradientResult(
      parts: perTask.map(\.part), explicit: g0, outerLoss: loss.isFinite ? loss : .nan,
      theta: theta,
      innerSteps: taken, innerResidual: perTask.reduce(0) { max($0, $1.residual) },
      linearSolve: nil, forwardSteps: costs.map(\.forwardSteps).max() ?? 0,
      peakStates: costs.map(\.peakStates).max() ?? 0,
      peakDoubles: costs.reduce(0) { $0 + $1.peakDoubles })
    result.retakenSteps = costs.map(\.retakenSteps).max() ?? 0
    result.finalStates = finalStates
    result.finalSteps = steps
    guard allFinite(result.gradient) else {
      throw SolverFault(
        .nonFinite, "the hypergradient is not finite", origin: problem.source.hypergradient?.range)
    }
    return result
  }

  /// Task t's reverse sweep from the cotangent ∂L_out/∂θ_T: its steps' (∂Φ/∂φ)ᵀ u
  /// added to `part` in the order the steps are reversed, then (through all
  /// T steps) the θ₀(φ) term. `trajectory`: ∂L_out/∂θ_t of every step, added on the way back.
  func reverseSweep(
    _ sweep: inout Sweep, task t: Int, _ phi: [Double], cotangent: [Double], into part: [Double],
    steps T: Int,
    keep K: Int, trajectory: [[Double]]? = nil
  ) throws(SolverFault) -> [Double] {
    var g = part
    let pullback = problem.tapedPullback(t)
    pullback.load(.phi, phi)
    var u = cotangent + [Double](repeating: 0, count: problem.stateSize - problem.innerSize)
    var residuals = [Double](repeating: 0, count: problem.residualSize)
    // The runner for the retaken steps and the bias corrections, apart from the sweep the replay advances.
    var stepper = sweep.runner
    func reverse(_ state: [Double], _ residuals: [Double], step k: Int) throws(SolverFault) {
      pullback.load(.state, state)
      stepper.loadBias(k, into: pullback)
      pullback.load(.cotangent, u)
      pullback.load(.residuals, residuals)
      pullback.run()
      pullback.store(.stateCotangent, into: &u)
      // Over the trajectory, u on s_k also carries ∂L_out/∂θ_k (θ_0 is not in the sum).
      if let trajectory, k >= 1 {
        for i in 0..<problem.innerSize { u[i] += trajectory[k - 1][i] }
      }
      pullback.accumulate(.outerCotangent, into: &g)
      guard allFinite(u) else {
        throw SolverFault.nonFinite(
          "the reverse sweep through inner step \(k + 1) (\(problem.taskLabel(t))unroll) produced a non-finite value",
          in: pullback, problem: problem)
      }
    }
    // The tape holds the last of the steps taken (all of them when a tolerance stopped the sweep).
    let first = sweep.taken - sweep.tape.count
    if sweep.schedule == nil {
      for (j, state) in sweep.tape.enumerated().reversed() {
        try reverse(state, sweep.residualTape[j], step: first + j)
      }
    } else {
      // A step reached by an advance is retaken for its residuals (revolve's "youturn");
      // one restored from a snapshot, or the last, has them recorded.
      var retaken = 0
      try replay(&sweep) { state, recorded, k throws(SolverFault) in
        if let recorded {
          try reverse(state, recorded, step: k)
        } else {
          stepper.residuals(at: state, step: k, into: &residuals)
          retaken += residuals.isEmpty ? 0 : 1
          try reverse(state, residuals, step: k)
        }
      }
      sweep.cost.retakenSteps = retaken
    }
    if sweep.schedule != nil || first == 0 {
      problem.addInitialPullback(&g, phi, cotangent: Array(u.prefix(problem.innerSize)), task: t)
    }
    return g
  }

  /// Runs all T steps, keeping the states the last K steps start from.
  func forwardTaped(_ sweep: inout Sweep, _ phi: [Double], keep K: Int) throws(SolverFault) {
    let T = sweep.runner.steps
    var s = sweep.runner.start(phi)
    sweep.tape.reserveCapacity(K)
    var residuals = [Double](repeating: 0, count: problem.residualSize)
    for k in 0..<T {
      let taped = k >= T - K
      if taped { sweep.tape.append(s) }
      guard try sweep.runner.advanceUnlessConverged(&s, step: k) else {
        // Converged at s: no step k to differentiate. (A tolerance implies K = T.)
        if taped { sweep.tape.removeLast() }
        break
      }
      sweep.taken += 1
      if taped {
        sweep.runner.storeResiduals(into: &residuals)
        sweep.residualTape.append(residuals)
      }
    }
    sweep.final = s
    sweep.cost.forwardSteps = sweep.taken
    // The tape, the working state and the cotangent.
    sweep.cost.peakStates = K + 2
    sweep.cost.peakDoubles = K * (problem.stateSize + problem.residualSize) + 2 * problem.stateSize
  }

  /// Follows the binomial schedule up to its first reverse action (the
  /// working state then holds s_{T−1}), and takes one more step for s_T,
  /// which the outer gradient needs before any step can be reversed.
  func forwardCheckpointed(
    _ sweep: inout Sweep, _ phi: [Double], snapshots: Int
  ) throws(SolverFault) {
    let T = sweep.runner.steps
    sweep.schedule = BinomialSchedule(steps: T, snapshots: snapshots).makeIterator()
    sweep.slots = Array(repeating: nil, count: snapshots)
    sweep.slotResiduals = Array(repeating: [], count: snapshots)
    sweep.slotRecorded = Array(repeating: false, count: snapshots)
    sweep.working = sweep.runner.start(phi)
    try execute(
      &sweep, until: { if case .reverse = $0 { return true } else { return false } },
      reverse: { _, _, _ throws(SolverFault) in })
    var last = sweep.working
    try sweep.runner.advance(&last, step: T - 1)
    // The first step reversed is this one: its residuals are kept.
    var residuals = [Double](repeating: 0, count: problem.residualSize)
    sweep.runner.storeResiduals(into: &residuals)
    sweep.workingResiduals = residuals
    sweep.cost.forwardSteps += 1
    sweep.final = last
    sweep.taken = T
  }

  func replay(
    _ sweep: inout Sweep, reverse: ([Double], [Double]?, Int) throws(SolverFault) -> Void
  ) throws(SolverFault) {
    try execute(&sweep, until: { _ in false }, reverse: reverse)
  }

  /// Executes schedule actions from the sweep's position until `stop` says so.
  func execute(
    _ sweep: inout Sweep, until stop: (CheckpointAction) -> Bool,
    reverse: ([Double], [Double]?, Int) throws(SolverFault) -> Void
  ) throws(SolverFault) {
    while let action = sweep.nextAction ?? sweep.schedule?.next() {
      sweep.nextAction = action
      if stop(action) { return }
      switch action {
      case .store(let slot, _):
        sweep.slots[slot] = sweep.working
        sweep.slotRecorded[slot] = false
        sweep.unrecordedSlot = slot
      case .restore(let slot, _):
        sweep.working = sweep.slots[slot]!
        sweep.workingResiduals = sweep.slotRecorded[slot] ? sweep.slotResiduals[slot] : nil
      case .advance(let from, let to):
        sweep.workingResiduals = nil
        for k in from..<to {
          try sweep.runner.advance(&sweep.working, step: k)
          // The step out of a fresh snapshot: its residuals stay with the snapshot.
          if let slot = sweep.unrecordedSlot {
            if sweep.slotResiduals[slot].count != problem.residualSize {
              sweep.slotResiduals[slot] = [Double](repeating: 0, count: problem.residualSize)
            }
            sweep.runner.storeResiduals(into: &sweep.slotResiduals[slot])
            sweep.slotRecorded[slot] = true
            sweep.unrecordedSlot = nil
          }
        }
        sweep.cost.forwardSteps += to - from
      case .reverse(let k): try reverse(sweep.working, sweep.workingResiduals, k)
      }
      // Snapshots in use (each with its step's residuals), the working state and the cotangent …
      let held = sweep.slots.count(where: { $0 != nil })
      sweep.cost.peakStates = max(sweep.cost.peakStates, held + 2)
      // … and one retaken step's residuals.
      sweep.cost.peakDoubles = max(
        sweep.cost.peakDoubles,
        (held + 2) * problem.stateSize + (held + 1) * problem.residualSize)
      sweep.nextAction = nil
    }
  }
}
