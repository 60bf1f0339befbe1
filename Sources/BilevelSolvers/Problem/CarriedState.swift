import BilevelCore
import BilevelFrontEnd
import Synchronization

/// `start: warm`: what one outer step's inner solve hands the next. Every
/// task's whole step state (θ, then the optimiser's velocity or moments),
/// and how many inner steps were taken before it, which continues Adam's
/// bias corrections.
public struct CarriedState: Sendable, Equatable {
  public var states: [[Double]]
  public var stepsTaken: Int

  public init(states: [[Double]], stepsTaken: Int) {
    self.states = states
    self.stepsTaken = stepsTaken
  }
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
  public func nextCarried(
    after result: HypergradientResult, at phi: [Double]
  ) throws(SolverFault) -> CarriedState {
    let T = source.innerSolver?.spec.fixedSteps ?? 0
    let taken = (carried?.stepsTaken ?? 0) + T
    if let s = result.finalStates { return CarriedState(states: s, stepsTaken: taken) }
    let states = try eachTask { t throws(SolverFault) in
      var runner = FixedStepRunner(self, task: t, steps: T)
      return try runner.run(phi)
    }
    return CarriedState(states: states, stepsTaken: taken)
  }
}
