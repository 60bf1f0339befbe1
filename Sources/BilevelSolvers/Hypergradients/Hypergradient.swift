import BilevelCore
import BilevelFrontEnd

/// What a method computed at one φ.
public struct HypergradientResult: Sendable {
  /// dL_out/dφ (its estimate), in φ's layout.
  public var gradient: [Double]
  public var gradientNorm: Double { norm(gradient) }
  /// L_out at the θ the method used.
  public var outerLoss: Double
  public var theta: [[Double]]
  public var innerSteps: Int
  /// ‖∇θ L_in‖ (or ‖E(z) − z‖) at θ, the largest over tasks.
  public var innerResidual: Double
  /// Implicit methods: the linear solve, worst over tasks.
  public var linearSolve: LinearSolveReport?
  /// Φ applications, counted for the checkpointing figures.
  public var forwardSteps = 0
  /// States the method held at once (tape, snapshots), for the memory figures.
  public var peakStates = 0
  /// Doubles those states and the taped steps' residuals took at the peak.
  public var peakDoubles = 0
  /// Steps run again for their residuals alone (a checkpointed reverse
  /// sweep's retaken steps), apart from the `forwardSteps` advances.
  public var retakenSteps = 0
  /// ∂L_out/∂φ at the method's θ: the explicit term.
  public var explicitGradient: [Double] = []
  /// Wall time of the inner solve when the method runs it as its own phase
  /// (implicit, first-order, evolutionary proxy); nil when the inner steps
  /// are interleaved with the derivative (unrolled methods) or absent.
  public var innerSolveSeconds: Double?
  /// Each task's whole step state after the inner steps (θ and the
  /// optimiser's state), when the method kept it: a warm start's next start.
  public var finalStates: [[Double]]?
  /// With them, the inner steps each task took (fewer than T where a tolerance stopped it).
  public var finalSteps: [Int]?
  /// Each task's contribution, in task order; task 0's includes the explicit term.
  var taskParts: [[Double]] = []
  /// A proxy method's trained α and its fit at this φ.
  public var proxy: ProxyFit? = nil

  /// The gradient of F_t(φ) = L_out(θ_1(φ₀), …, θ_t(φ), …, θ_M(φ₀), φ), the
  /// method's map with every other task's θ held: ∂L_out/∂φ plus task t's
  /// path through its inner solve. The gradient is Σ_t of these less
  /// (M − 1)·∂L_out/∂φ.
  /// Task t's path through its inner solve alone (the explicit term taken
  /// out of task 0's part): the gradient is explicitGradient plus their sum.
  /// Empty when the method did not split its work by task.
  public var throughEachTask: [[Double]] {
    taskParts.enumerated().map { t, part in
      t == 0 ? zip(part, explicitGradient).map { $0 - $1 } : part
    }
  }

  public func taskGradient(_ t: Int) -> [Double] {
    if taskParts.isEmpty { return gradient }
    if t == 0 { return taskParts[0] }
    return zip(explicitGradient, taskParts[t]).map { $0 + $1 }
  }
}

extension HypergradientResult {
  /// The gradient from per-task contributions made by `accumulator`: their
  /// sum in task order, the same bits whatever the threads.
  init(
    parts: [[Double]], explicit: [Double], outerLoss: Double, theta: [[Double]], innerSteps: Int,
    innerResidual: Double,
    linearSolve: LinearSolveReport?, forwardSteps: Int, peakStates: Int, peakDoubles: Int = 0
  ) {
    self.init(
      gradient: TaskParallel.sum(parts), outerLoss: outerLoss, theta: theta, innerSteps: innerSteps,
      innerResidual: innerResidual, linearSolve: linearSolve, forwardSteps: forwardSteps,
      peakStates: peakStates,
      peakDoubles: peakDoubles)
    explicitGradient = explicit
    taskParts = parts
  }
}

extension BilevelProblem {
  /// L_out and ∂L_out/∂φ at (θ of every task, φ).
  func outerGradientOuter(
    _ theta: [[Double]], _ phi: [Double]
  ) throws(SolverFault) -> (loss: Double, gradient: [Double]) {
    let f = outerGradient
    f.load(.allTheta, theta.flatMap { $0 })
    f.load(.phi, phi)
    f.run()
    let loss = f.scalar(.loss)
    let g = f.result(.gradient)
    guard loss.isFinite, allFinite(g) else {
      throw SolverFault.nonFinite(
        "the outer loss or its gradient is not finite", in: f, problem: self)
    }
    return (loss, g)
  }

  /// ∂L_out/∂θ of every task (one plan per task, so in parallel).
  func outerGradientsInner(_ theta: [[Double]], _ phi: [Double]) throws(SolverFault) -> [[Double]] {
    let all = theta.flatMap { $0 }
    return try eachTask { t throws(SolverFault) in
      let f = outerGradientInner(t)
      f.load(.allTheta, all)
      f.load(.phi, phi)
      f.run()
      let g = f.result(.gradient)
      guard allFinite(g) else {
        throw SolverFault.nonFinite(
          "the outer loss's gradient in θ is not finite", in: f, problem: self)
      }
      return g
    }
  }

  /// g += (∂θ₀/∂φ)ᵀ u for task t's cotangent u on θ₀.
  func addInitialPullback(_ g: inout [Double], _ phi: [Double], cotangent: [Double], task t: Int) {
    guard differentiatesStart else { return }
    let f = initialPullback(t)
    f.load(.phi, phi)
    f.load(.cotangent, cotangent)
    f.run()
    f.accumulate(.outerCotangent, into: &g)
  }

  /// The method's estimate at φ, as it runs at outer step `outerStep`;
  /// `previous` is the last step's result, which a method with state between
  /// steps (a local proxy's α) continues from.
  public func hypergradient(
    _ method: HypergradientMethod, at phi: [Double], outerStep: Int = 0,
    previous: HypergradientResult? = nil
  ) throws(SolverFault) -> HypergradientResult {
    let record = method.record
    self.outerStep = outerStep
    if let previous, let next = record.continuing {
      return try next(self, phi, outerStep, previous)
    }
    return try (record.atOuterStep?(outerStep) ?? record).compute(self, phi)
  }
}
