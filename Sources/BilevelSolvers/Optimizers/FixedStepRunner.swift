import BilevelCore
import BilevelFrontEnd
import Foundation

/// Runs one task's fixed-step inner solver (gd, momentum, adam) one step at
/// a time over the whole unrolled state s = (θ, optimizer state):
/// s_{k+1} = Φ(s_k, φ). The unrolled methods drive it to record, replay or
/// differentiate the steps. A value: each task's runner is its thread's own.
public struct FixedStepRunner: Sendable {
  let problem: BilevelProblem
  let task: Int
  let function: Compiled<InnerStep>
  public let steps: Int
  var bias: [Double]
  let betas: (Double, Double)?
  /// The inner loss at the first step, for the divergence bound.
  var firstLoss: Double?
  public private(set) var lastLoss = Double.nan

  public init(_ problem: BilevelProblem, task: Int, steps: Int) {
    self.problem = problem
    self.task = task
    self.steps = steps
    function = problem.step(task)
    if case .adam(_, let b1, let b2, _)? = problem.stepRule {
      betas = (b1, b2)
      bias = [1, 1]
    } else {
      betas = nil
      bias = []
    }
  }

  /// Loads φ (fixed during the inner solve) and returns s₀ = (θ₀(φ), 0).
  public mutating func start(_ phi: [Double]) -> [Double] {
    function.load(.phi, phi)
    firstLoss = nil
    let start = problem.initial(task)([.phi: phi])
    let theta0 = start[.theta] + start[.state]
    return theta0 + [Double](repeating: 0, count: problem.stateSize - theta0.count)
  }

  /// Adam's bias corrections for step k (0-based) into the step plan or one
  /// of its derivative plans (nothing for other solvers).
  mutating func loadBias<S: BiasCorrectedSignature>(_ k: Int, into f: Compiled<S>) {
    guard let (b1, b2) = betas else { return }
    bias[0] = 1 / (1 - pow(b1, Double(k + 1)))
    bias[1] = 1 / (1 - pow(b2, Double(k + 1)))
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
    loadBias(k, into: function)
    function.load(.state, s)
    function.run()
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
    function.load(.phi, phi)
    firstLoss = nil
    var s = state
    for k in range { try advance(&s, step: k) }
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

  /// Runs all steps from s₀(φ) and returns s_T.
  public mutating func run(_ phi: [Double]) throws(SolverFault) -> [Double] {
    var s = start(phi)
    for k in 0..<steps { try advance(&s, step: k) }
    return s
  }
}
