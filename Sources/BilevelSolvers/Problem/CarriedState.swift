import BilevelCore
import BilevelFrontEnd
import Synchronization

/// `start: warm`: what one outer step's inner solve hands the next. Every
/// task's whole step state (θ, then the optimiser's velocity or moments),
/// and how many inner steps were taken before it, which continues Adam's
/// bias corrections and the lr schedule. With a tolerance the tasks stop at
/// different steps, so each task's count is its own.
public struct CarriedState: Sendable, Equatable {
  public var states: [[Double]]
  /// The steps every task took; with `taskSteps`, the most any did.
  public var stepsTaken: Int
  /// Each task's steps, when they differ (nil: all took `stepsTaken`).
  public var taskSteps: [Int]?

  public init(states: [[Double]], stepsTaken: Int) {
    self.states = states
    self.stepsTaken = stepsTaken
  }

  /// Counts per task, kept per task only where they differ.
  public init(states: [[Double]], taskSteps: [Int]) {
    self.states = states
    stepsTaken = taskSteps.max() ?? 0
    self.taskSteps = Set(taskSteps).count > 1 ? taskSteps : nil
  }

  /// The inner steps task t took before this state.
  public func steps(of t: Int) -> Int { taskSteps?[t] ?? stepsTaken }
}

extension BilevelProblem {
  /// Whether each outer step's inner solve continues the previous one.
  public var startsWarm: Bool { source.innerStart == .warm }

  /// The state the next inner solve starts from; nil: θ₀ with a zero
  /// optimiser state. Set between hypergradient calls, not during one
  /// (like `threads`). Every method holds it constant: none differentiates
  /// through it.
  public var carried: CarriedState? {
    get { carriedStore.withLock { $0 } }
    set { carriedStore.withLock { $0 = newValue } }
  }

  /// The state task t's inner solve starts from at φ: the carried one, or
  /// (θ₀(φ), 0). With a warm start θ₀ reads no outer variable (Structure's check).
  func startState(_ t: Int, _ phi: [Double]) -> [Double] {
    if startsWarm, let c = carried { return c.states[t] }
    // θ₀ then a rule's recurrent states at their declared starts; the
    // optimiser's own state (velocity, moments) starts at zero.
    let start = initial(t)([.phi: phi])
    let declared = start[.theta] + start[.state]
    return declared + [Double](repeating: 0, count: stateSize - declared.count)
  }

  /// Whether the methods add θ₀(φ)'s own derivative: not when the start is carried.
  var differentiatesStart: Bool { !startsWarm }

  /// The solution's θ as whole step states when θ is all of the state (gd);
  /// nil when the optimiser's state was not kept (momentum, adam).
  func wholeStates(_ solution: InnerSolution) -> [[Double]]? {
    startsWarm && stateSize == innerSize ? solution.theta : nil
  }

  /// The state after this outer step's inner steps at φ from the carried
  /// start: the next step's start. The methods that keep their final states
  /// hand them back (`HypergradientResult.finalStates`); for the others the
  /// steps are retaken, with the same arithmetic.
  /// With a tolerance each task's count grows by the steps it took (at most T).
  public func nextCarried(
    after result: HypergradientResult, at phi: [Double]
  ) throws(SolverFault) -> CarriedState {
    let T = source.innerSolver?.spec.fixedSteps ?? 0
    let before = (0..<tasks).map { carried?.steps(of: $0) ?? 0 }
    let stopsEarly = source.innerControls.tolerance != nil
    if let s = result.finalStates, !stopsEarly || result.finalSteps != nil {
      let steps = result.finalSteps ?? [Int](repeating: T, count: tasks)
      return CarriedState(states: s, taskSteps: zip(before, steps).map { $0 + $1 })
    }
    let retaken = try eachTask { t throws(SolverFault) -> (state: [Double], steps: Int) in
      var runner = FixedStepRunner(self, task: t, steps: T)
      let state = try runner.run(phi)
      return (state, runner.stepsTaken)
    }
    return CarriedState(
      states: retaken.map(\.state), taskSteps: zip(before, retaken).map { $0 + $1.steps })
  }
}
