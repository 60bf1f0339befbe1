import BilevelCore
import BilevelFrontEnd

/// A hypergradient method as the program selects it (METHODS.md).
public enum HypergradientMethod: Sendable, Equatable {
  case unrollReverse(checkpoints: Int?)
  case unrollForward
  case truncated(steps: Int)
  case firstOrder
  case finiteDifference(eps: Double)
  case evograd(samples: Int, sigma: Double, tau: Double, seed: Int)
  case implicitConjugateGradient(iterations: Int, tolerance: Double)
  case implicitNeumann(iterations: Int, alpha: Double)
  case implicitExact
  case closedForm

  /// The method a `hypergradient with ...` statement names; `auto` is
  /// resolved by the caller (it needs the problem's figures).
  public init?(_ s: SolverSetting) {
    func integer(_ n: String, _ d: Int) -> Int {
      if case .integer(let k)? = s.value(n) { return k }
      return d
    }
    func real(_ n: String, _ d: Double) -> Double {
      switch s.value(n) {
      case .real(let r)?: return r
      case .integer(let k)?: return Double(k)
      default: return d
      }
    }
    func symbol(_ n: String) -> String? {
      if case .symbol(let v)? = s.value(n) { return v }
      return nil
    }
    switch s.name {
    case "unroll":
      if symbol("mode") == "forward" { self = .unrollForward } else {
        if case .integer(let k)? = s.value("checkpoints") { self = .unrollReverse(checkpoints: k) } else { self = .unrollReverse(checkpoints: nil) }
      }
    case "truncated": self = .truncated(steps: integer("steps", 1))
    case "first_order": self = .firstOrder
    case "finite_difference": self = .finiteDifference(eps: real("eps", 0.01))
    case "evograd":
      self = .evograd(samples: integer("samples", 4), sigma: real("sigma", 0.001), tau: real("tau", 0.05), seed: integer("seed", 1))
    case "implicit":
      switch symbol("solver") {
      case "cg": self = .implicitConjugateGradient(iterations: integer("iters", 20), tolerance: real("tol", 1e-10))
      case "neumann": self = .implicitNeumann(iterations: integer("iters", 20), alpha: real("alpha", 1))
      default: self = .implicitExact
      }
    case "closed_form": self = .closedForm
    default: return nil
    }
  }

  /// As written in a program, with every setting.
  public var description: String {
    switch self {
    case .unrollReverse(let k): return k.map { "unroll(reverse, checkpoints: \($0))" } ?? "unroll(reverse)"
    case .unrollForward: return "unroll(forward)"
    case .truncated(let k): return "truncated(\(k))"
    case .firstOrder: return "first_order"
    case .finiteDifference(let e): return "finite_difference(eps: \(formatValue(e)))"
    case .evograd(let k, let s, let t, let seed): return "evograd(\(k), sigma: \(formatValue(s)), tau: \(formatValue(t)), seed: \(seed))"
    case .implicitConjugateGradient(let k, let tol): return "implicit(cg, iters: \(k), tol: \(formatValue(tol)))"
    case .implicitNeumann(let k, let a): return "implicit(neumann, iters: \(k), alpha: \(formatValue(a)))"
    case .implicitExact: return "implicit(exact)"
    case .closedForm: return "closed_form"
    }
  }

  /// Whether it solves the inner problem and differentiates the solution
  /// (rather than the unrolled steps).
  public var isImplicit: Bool {
    switch self {
    case .implicitConjugateGradient, .implicitNeumann, .implicitExact, .closedForm: return true
    default: return false
    }
  }
}

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
  /// ∂L_out/∂φ at the method's θ: the explicit term.
  public var explicitGradient: [Double] = []
  /// Each task's contribution, in task order; task 0's includes the explicit term.
  var taskParts: [[Double]] = []

  /// The gradient of F_t(φ) = L_out(θ_1(φ₀), …, θ_t(φ), …, θ_M(φ₀), φ), the
  /// method's map with every other task's θ held: ∂L_out/∂φ plus task t's
  /// path through its inner solve. The gradient is Σ_t of these less
  /// (M − 1)·∂L_out/∂φ.
  public func taskGradient(_ t: Int) -> [Double] {
    if taskParts.isEmpty { return gradient }
    if t == 0 { return taskParts[0] }
    return zip(explicitGradient, taskParts[t]).map { $0 + $1 }
  }
}

extension HypergradientResult {
  /// The gradient from per-task contributions made by `accumulator`: their
  /// sum in task order, the same bits whatever the threads.
  init(parts: [[Double]], explicit: [Double], outerLoss: Double, theta: [[Double]], innerSteps: Int, innerResidual: Double,
       linearSolve: LinearSolveReport?, forwardSteps: Int, peakStates: Int, peakDoubles: Int = 0) {
    self.init(gradient: TaskParallel.sum(parts), outerLoss: outerLoss, theta: theta, innerSteps: innerSteps,
              innerResidual: innerResidual, linearSolve: linearSolve, forwardSteps: forwardSteps, peakStates: peakStates,
              peakDoubles: peakDoubles)
    explicitGradient = explicit
    taskParts = parts
  }
}

extension BilevelProblem {
  /// L_out and ∂L_out/∂φ at (θ of every task, φ).
  func outerGradientOuter(_ theta: [[Double]], _ phi: [Double]) throws(SolverFault) -> (loss: Double, gradient: [Double]) {
    let f = outerGradient
    f.load(0, theta.flatMap { $0 })
    f.load(1, phi)
    f.run()
    let loss = f.scalar(0)
    let g = f.result(1)
    guard loss.isFinite, allFinite(g) else { throw SolverFault.nonFinite("the outer loss or its gradient is not finite", in: f, problem: self) }
    return (loss, g)
  }

  /// ∂L_out/∂θ of every task (one plan per task, so in parallel).
  func outerGradientsInner(_ theta: [[Double]], _ phi: [Double]) throws(SolverFault) -> [[Double]] {
    let all = theta.flatMap { $0 }
    return try eachTask { t throws(SolverFault) in
      let f = outerGradientInner(t)
      f.load(0, all)
      f.load(1, phi)
      f.run()
      let g = f.result(0)
      guard allFinite(g) else { throw SolverFault.nonFinite("the outer loss's gradient in θ is not finite", in: f, problem: self) }
      return g
    }
  }

  /// g += (∂θ₀/∂φ)ᵀ u for task t's cotangent u on θ₀.
  func addInitialPullback(_ g: inout [Double], _ phi: [Double], cotangent: [Double], task t: Int) {
    let f = initialPullback(t)
    f.load(0, phi)
    f.load(1, cotangent)
    f.run()
    f.accumulate(0, into: &g)
  }

  public func hypergradient(_ method: HypergradientMethod, at phi: [Double]) throws(SolverFault) -> HypergradientResult {
    switch method {
    case .unrollReverse(let k): return try UnrolledReverse(problem: self, truncation: nil, checkpoints: k).compute(phi)
    case .truncated(let k): return try UnrolledReverse(problem: self, truncation: k, checkpoints: nil).compute(phi)
    case .unrollForward: return try UnrolledForward(problem: self).compute(phi)
    case .firstOrder: return try FirstOrder(problem: self).compute(phi)
    case .finiteDifference(let eps): return try FiniteDifferenceStep(problem: self, eps: eps).compute(phi)
    case .evograd(let k, let sigma, let tau, let seed):
      return try EvolutionaryProxy(problem: self, samples: k, sigma: sigma, tau: tau, seed: seed).compute(phi)
    case .implicitConjugateGradient, .implicitNeumann, .implicitExact:
      return try ImplicitDifferentiation(problem: self, method: method).compute(phi)
    case .closedForm: return try ClosedForm(problem: self).compute(phi)
    }
  }
}
