import BilevelCore
import BilevelFrontEnd
import Foundation

/// The outer solver: gradient descent or Adam on the hypergradient, each
/// step followed by projection onto the box bounds of the outer variables.
public struct OuterOptimizer: Sendable {
  public let spec: OuterSolverSpec?
  public let bounds: (lower: [Double], upper: [Double])?
  var first: [Double] = []
  var second: [Double] = []
  var count = 0

  /// What a later run needs to continue exactly where this one stopped:
  /// Adam's moments and step count (empty and 0 for gd).
  public struct State: Sendable, Equatable {
    public var count: Int
    public var first: [Double]
    public var second: [Double]
    public init(count: Int, first: [Double], second: [Double]) {
      self.count = count
      self.first = first
      self.second = second
    }
  }

  public var state: State {
    get { State(count: count, first: first, second: second) }
    set {
      count = newValue.count
      first = newValue.first
      second = newValue.second
    }
  }

  /// Schedule, clipping and the stopping tolerance (StepControls).
  public let controls: StepControls

  public init(
    _ statement: SolverStatement<OuterSolverSpec>?, bounds: (lower: [Double], upper: [Double])?,
    controls: StepControls = StepControls()
  ) {
    spec = statement?.spec
    self.bounds = bounds
    self.controls = controls
  }

  /// Whether the hypergradient is short enough to stop at (`tol:`).
  public func converged(_ gradientNorm: Double) -> Bool {
    controls.tolerance.map { gradientNorm <= $0 } ?? false
  }

  public var name: String { spec?.name ?? "none" }
  public var learningRate: Double { spec?.learningRate ?? 0 }
  public var steps: Int { spec?.steps ?? 0 }

  /// Clamps φ into its box.
  public func project(_ phi: inout [Double]) {
    guard let b = bounds else { return }
    for i in phi.indices { phi[i] = min(max(phi[i], b.lower[i]), b.upper[i]) }
  }

  /// Outer step k's (0-based) move along −g, clipped and scheduled when the
  /// solver says so, then the projection.
  public mutating func step(_ phi: inout [Double], gradient: [Double], outerStep k: Int = 0) {
    let learningRate = self.learningRate * controls.rateFactor(step: k, of: steps)
    let clip = controls.clipFactor(norm: norm(gradient))
    let g = clip == 1 ? gradient : gradient.map { $0 * clip }
    if case .adam(_, let moments, _)? = spec {
      let beta1 = moments.beta1, beta2 = moments.beta2, eps = moments.eps
      if first.isEmpty {
        first = Array(repeating: 0, count: phi.count)
        second = first
      }
      count += 1
      let c1 = 1 / (1 - pow(beta1, Double(count)))
      let c2 = 1 / (1 - pow(beta2, Double(count)))
      for i in phi.indices {
        first[i] = beta1 * first[i] + (1 - beta1) * g[i]
        second[i] = beta2 * second[i] + (1 - beta2) * g[i] * g[i]
        phi[i] -= learningRate * (first[i] * c1) / ((second[i] * c2).squareRoot() + eps)
      }
    } else {
      for i in phi.indices { phi[i] -= learningRate * g[i] }
    }
    project(&phi)
  }
}

/// The whole bilevel optimisation: the outer solver's steps, each with a
/// hypergradient, then the final point's figures. A fault keeps the last
/// good point and everything measured before it.
public struct BilevelRun {
  public struct Progress: Sendable {
    public let step: Int
    public let steps: Int
    public let outerLoss: Double
    public let gradientNorm: Double
    public let innerResidual: Double
    /// φ at this step (before the step's update).
    public let phi: [Double]
    /// θ of every task the hypergradient used at this φ.
    public let theta: [[Double]]
  }

  /// Where a resumed run starts: φ after `step` outer steps and the
  /// optimiser's state then.
  public struct ResumePoint: Sendable {
    public let step: Int
    public let phi: [Double]
    public let optimizer: OuterOptimizer.State
    /// A warm start's inner state the step at `phi` starts from (nil: θ₀).
    public let inner: CarriedState?
    public init(
      step: Int, phi: [Double], optimizer: OuterOptimizer.State, inner: CarriedState? = nil
    ) {
      self.step = step
      self.phi = phi
      self.optimizer = optimizer
      self.inner = inner
    }
  }

  public struct Report: Sendable {
    /// The step the run started from (0, or the resumed run's step).
    public var firstStep = 0
    /// The optimiser's state at `phi` (after `stepsDone` updates).
    public var optimizer = OuterOptimizer.State(count: 0, first: [], second: [])
    /// A warm start's inner state the step at `phi` started from (nil: θ₀, or a cold start).
    public var inner: CarriedState?
    public var initialPhi: [Double] = []
    public var phi: [Double] = []
    public var initialLoss: Double?
    public var final: HypergradientResult?
    public var stepsDone = 0
    public var fault: SolverFault?
    /// The outer solver stopped at its tolerance on the hypergradient's norm.
    public var converged = false
    public var faultStep: Int?
    /// Wall time summed over outer steps: the hypergradient evaluations
    /// (inner solve included), the part of them spent in a separate inner
    /// solve (nil when no step had one), and the outer updates.
    public var hypergradientSeconds = 0.0
    public var innerSolveSeconds: Double?
    public var outerUpdateSeconds = 0.0
  }

  public let problem: BilevelProblem
  public let method: HypergradientMethod

  public init(problem: BilevelProblem, method: HypergradientMethod) {
    self.problem = problem
    self.method = method
  }

  /// `progress` may return false to stop after that step (an interrupt).
  public func run(
    from resume: ResumePoint? = nil, progress: (Progress) -> Bool = { _ in true }
  ) -> Report {
    var report = Report()
    var optimizer = OuterOptimizer(
      problem.source.outerSolver, bounds: problem.outerBounds(),
      controls: problem.source.outerControls)
    var phi = problem.initialOuter()
    optimizer.project(&phi)
    if let resume {
      phi = resume.phi
      optimizer.state = resume.optimizer
      report.firstStep = resume.step
    }
    // Each step's inner solve starts where the previous one ended (start: warm).
    if problem.startsWarm { problem.carried = resume?.inner }
    defer { if problem.startsWarm { problem.carried = nil } }
    report.initialPhi = phi
    report.phi = phi
    report.optimizer = optimizer.state
    for k in report.firstStep...max(report.firstStep, optimizer.steps) {
      let result: HypergradientResult
      let started = ContinuousClock.now
      do {
        result = try problem.hypergradient(
          method, at: phi, outerStep: k, previous: k > report.firstStep ? report.final : nil)
        report.hypergradientSeconds += secondsSince(started)
        if let s = result.innerSolveSeconds {
          report.innerSolveSeconds = (report.innerSolveSeconds ?? 0) + s
        }
      } catch {
        report.fault = error
        report.faultStep = k
        return report
      }
      if k == report.firstStep { report.initialLoss = result.outerLoss }
      report.final = result
      report.phi = phi
      report.stepsDone = k
      report.optimizer = optimizer.state
      report.inner = problem.startsWarm ? problem.carried : nil
      let going = progress(
        Progress(
          step: k, steps: optimizer.steps, outerLoss: result.outerLoss,
          gradientNorm: result.gradientNorm,
          innerResidual: result.innerResidual, phi: phi, theta: result.theta))
      if optimizer.converged(result.gradientNorm) { report.converged = true }
      if k >= optimizer.steps || !going || report.converged { break }
      if problem.startsWarm {
        do {
          problem.carried = try problem.nextCarried(after: result, at: phi)
        } catch {
          report.fault = error
          report.faultStep = k
          return report
        }
      }
      let updating = ContinuousClock.now
      optimizer.step(&phi, gradient: result.gradient, outerStep: k)
      report.outerUpdateSeconds += secondsSince(updating)
      if !allFinite(phi) {
        let outer = problem.source.outerSolver
        report.fault = SolverFault(
          .nonFinite,
          "outer step \(k + 1): the outer variables became non-finite (lower the outer learning rate)",
          origin: outer?.settingRange("lr") ?? outer?.range)
        report.faultStep = k + 1
        return report
      }
    }
    return report
  }
}
