import BilevelCore
import BilevelFrontEnd
import Foundation

/// Runs one task's fixed-step inner solver (gd, momentum, adam) one step at
/// a time over the whole unrolled state s = (θ, optimizer state):
/// s_{k+1} = Φ(s_k, φ), stopping early at a tolerance when the solver has
/// one. The unrolled methods drive it to record, replay or differentiate the
/// steps taken. A value: each task's runner is its thread's own.
public struct FixedStepRunner: Sendable {
  let problem: BilevelProblem
  let task: Int
  var function: Compiled<InnerStep>
  public let steps: Int
  var bias: [Double]
  let betas: (Double, Double)?
  /// Inner steps taken before this solve (a warm start's carried count).
  let stepOffset: Int
  /// The schedule's factor on lr (StepControls), over `scheduleLength` steps.
  let controls: StepControls
  let scheduleLength: Int
  /// Steps the last `run` took: `steps`, or fewer when the tolerance stopped it.
  public private(set) var stepsTaken = 0
  var squaredNorm = [0.0]
  /// The inner loss at the first step, for the divergence bound.
  var firstLoss: Double?
  public private(set) var lastLoss = Double.nan
  /// φ of the current solve, for checking the settings it determines.
  var phi: [Double] = []

  public init(_ problem: BilevelProblem, task: Int, steps: Int) {
    self.problem = problem
    self.task = task
    self.steps = steps
    function = problem.step(task)
    // A warm start continues the step count, so Adam's bias corrections do too.
    stepOffset = problem.startsWarm ? problem.carried?.steps(of: task) ?? 0 : 0
    controls = problem.source.innerControls
    // A warm start's schedule runs over every outer step's inner steps.
    let outerSteps = problem.source.outerSolver?.spec.steps ?? 0
    scheduleLength = problem.startsWarm ? steps * (outerSteps + 1) : steps
    if case .adam(_, let b1, let b2, _)? = problem.stepRule {
      betas = (b1, b2)
      bias = [1, 1]
    } else {
      betas = nil
      bias = []
    }
    if problem.stepRule != nil && controls.isScheduled { bias.append(1) }
  }

  /// The schedule's factor on lr at step k (0-based) of this solve.
  public func rateFactor(_ k: Int) -> Double {
    controls.rateFactor(step: stepOffset + k, of: scheduleLength)
  }

  /// Loads φ (fixed during the inner solve) and returns s₀ = (θ₀(φ), 0), or
  /// the carried state of a warm start.
  public mutating func start(_ phi: [Double]) -> [Double] {
    self.phi = phi
    takeUp()
    firstLoss = nil
    return problem.startState(task, phi)
  }

  /// Takes the step function up on the calling thread, with φ loaded: at
  /// each start (another task's runner may have used the thread's plan), and
  /// for a sweep handed from one pass over the tasks to the next
  /// (TaskParallel.Handoff), which may continue on another thread.
  public mutating func takeUp() {
    function = problem.step(task)
    if !phi.isEmpty { function.load(.phi, phi) }
  }

  /// What varies with step k (0-based) into the step plan or one of its
  /// derivative plans: its minibatches, and Adam's bias corrections.
  mutating func loadBias<S: BiasCorrectedSignature>(_ k: Int, into f: Compiled<S>) {
    f.function.loadBatches(outer: problem.outerStep, inner: k)
    guard !bias.isEmpty else { return }
    if let (b1, b2) = betas {
      bias[0] = 1 / (1 - pow(b1, Double(stepOffset + k + 1)))
      bias[1] = 1 / (1 - pow(b2, Double(stepOffset + k + 1)))
    }
    if controls.isScheduled { bias[bias.count - 1] = rateFactor(k) }
    f.load(S.biasCorrection, bias)
  }

  /// "inner step 7 of 50 (task 2, gd)", for faults.
  func stepLabel(_ k: Int) -> String {
    "inner step \(k + 1) of \(steps) (\(problem.taskLabel(task))\(problem.source.innerSolver?.name ?? InnerSolverKind.gd.rawValue))"
  }

  /// s ← Φ(s) for step k (0-based). Stops with the step and the source
  /// expression when the state or the loss becomes non-finite, or the loss
  /// grows past 10¹⁰ times its first value.
  public mutating func advance(_ s: inout [Double], step k: Int) throws(SolverFault) {
    if k == 0 { try problem.checkStepSettings(phi, task: task) }
    loadBias(k, into: function)
    function.load(.state, s)
    function.run()
    try finish(&s, step: k)
  }

  /// Step k, unless θ in s already meets the inner tolerance (‖∇θ L_in‖ ≤
  /// tol, read off the same step's plan): then s is left as it is and the
  /// result is false. Without a tolerance, always the step.
  public mutating func advanceUnlessConverged(
    _ s: inout [Double], step k: Int
  ) throws(SolverFault) -> Bool {
    guard let tolerance = controls.tolerance else {
      try advance(&s, step: k)
      return true
    }
    loadBias(k, into: function)
    function.load(.state, s)
    function.run()
    function.store(.squaredGradientNorm, into: &squaredNorm)
    if squaredNorm[0].squareRoot() <= tolerance { return false }
    try finish(&s, step: k)
    return true
  }

  /// Stores the step just run into s, with the checks on it.
  mutating func finish(_ s: inout [Double], step k: Int) throws(SolverFault) {
    let loss = function.scalar(.loss)
    function.store(.next, into: &s)
    guard loss.isFinite, allFinite(s) else {
      throw SolverFault.nonFinite(
        "\(stepLabel(k)) produced a non-finite value", in: function, problem: problem)
    }
    if firstLoss == nil { firstLoss = loss }
    if abs(loss) > 1e10 * max(1, abs(firstLoss!)) {
      throw SolverFault(
        .diverged,
        "\(stepLabel(k)): the inner loss grew from \(formatValue(firstLoss!)) to \(formatValue(loss)); "
          + "the inner solver diverges (try a smaller learning rate)",
        origin: problem.source.innerSolver?.range)
    }
    lastLoss = loss
  }

  /// Runs the steps `range` (0-based indices, which set Adam's bias
  /// corrections) from a given state with φ loaded afresh: e.g. the last K
  /// steps T−K..T−1 of a truncated unroll from a stored s_{T−K}.
  public mutating func run(
    from state: [Double], _ phi: [Double], steps range: Range<Int>
  ) throws(SolverFault) -> [Double] {
    self.phi = phi
    takeUp()
    firstLoss = nil
    var s = state
    stepsTaken = 0
    for k in range {
      guard try advanceUnlessConverged(&s, step: k) else { break }
      stepsTaken += 1
    }
    return s
  }

  /// The residuals (the step's matrix products, for the taped pullback) of
  /// the step just taken by `advance`.
  public func storeResiduals(into r: inout [Double]) {
    if !r.isEmpty { function.store(.residuals, into: &r) }
  }

  /// Runs step k at s without keeping its result, for its residuals: the
  /// taping half of a checkpointed reverse step.
  public mutating func residuals(at s: [Double], step k: Int, into r: inout [Double]) {
    guard !r.isEmpty else { return }
    loadBias(k, into: function)
    function.load(.state, s)
    function.run()
    function.store(.residuals, into: &r)
  }

  /// Runs all steps from s₀(φ), or until the tolerance stops them, and returns the last state.
  public mutating func run(_ phi: [Double]) throws(SolverFault) -> [Double] {
    var s = start(phi)
    stepsTaken = 0
    for k in 0..<steps {
      guard try advanceUnlessConverged(&s, step: k) else { break }
      stepsTaken += 1
    }
    return s
  }
}
