// What `solve ... with` and `hypergradient with` statements bind to, each
// beside the one place that builds it from the settings in SolverCatalogue.swift. Every later
// stage switches on these cases; none reads a setting by its name or
// restates a default.

/// Adam's moment settings, the same for the inner and the outer solver.
public struct AdamMoments: Sendable, Hashable {
  public let beta1: Double
  public let beta2: Double
  public let eps: Double

  public init(beta1: Double, beta2: Double, eps: Double) {
    self.beta1 = beta1
    self.beta2 = beta2
    self.eps = eps
  }
}

/// An inner solver with its settings; `Value` is a setting that may be an
/// expression of outer variables (a graph node once elaborated).
public enum InnerSolverSpec<Value: Sendable & Hashable>: Sendable, Hashable {
  case gd(lr: Value, steps: Int)
  case momentum(lr: Value, momentum: Value, steps: Int)
  case adam(lr: Value, moments: AdamMoments, steps: Int)
  /// θ ← θ + update, where the update reads 'grad' (∇θ L_in).
  case rule(update: Value, steps: Int)
  /// `steps`: exactly that many full steps instead of stopping at the tolerance.
  case newton(tolerance: Double, maxSteps: Int, cgIterations: Int, steps: Int?)
  case fixpoint(tolerance: Double, maxSteps: Int)
  /// Gradient flow dθ/dt = −∇θ L_in to t = horizon: RK4 with horizon/steps
  /// per step, or (adaptive non-nil) Dormand–Prince 5(4) under its tolerances.
  case flow(horizon: Value, steps: Int, adaptive: AdaptiveTolerances?)

  public var kind: InnerSolverKind {
    switch self {
    case .gd: return .gd
    case .momentum: return .momentum
    case .adam: return .adam
    case .rule: return .rule
    case .newton: return .newton
    case .fixpoint: return .fixpoint
    case .flow: return .flow
    }
  }

  public var name: String { kind.rawValue }

  /// T for solvers that run a fixed number of steps (the ones unrolled
  /// methods differentiate); nil for those that stop at a tolerance.
  public var fixedSteps: Int? {
    switch self {
    case .gd(_, let t), .momentum(_, _, let t), .adam(_, _, let t), .rule(_, let t),
      .flow(_, let t, nil):
      return t
    case .newton, .fixpoint, .flow: return nil
    }
  }

  /// Whether it solves an `inner fixpoint` rather than minimising an inner loss.
  public var solvesFixpoint: Bool {
    if case .fixpoint = self { return true }
    return false
  }

  /// Every expression-valued setting, in catalogue order.
  public var expressions: [Value] {
    switch self {
    case .gd(let lr, _), .adam(let lr, _, _): return [lr]
    case .momentum(let lr, let mu, _): return [lr, mu]
    case .rule(let u, _): return [u]
    case .flow(let h, _, _): return [h]
    case .newton, .fixpoint: return []
    }
  }

  public func map<T: Sendable & Hashable, E: Error>(
    _ f: (Value) throws(E) -> T
  ) throws(E) -> InnerSolverSpec<T> {
    switch self {
    case .gd(let lr, let t): return .gd(lr: try f(lr), steps: t)
    case .momentum(let lr, let mu, let t):
      return .momentum(lr: try f(lr), momentum: try f(mu), steps: t)
    case .adam(let lr, let m, let t): return .adam(lr: try f(lr), moments: m, steps: t)
    case .rule(let u, let t): return .rule(update: try f(u), steps: t)
    case .newton(let tol, let k, let cg, let n):
      return .newton(tolerance: tol, maxSteps: k, cgIterations: cg, steps: n)
    case .fixpoint(let tol, let k): return .fixpoint(tolerance: tol, maxSteps: k)
    case .flow(let h, let t, let a): return .flow(horizon: try f(h), steps: t, adaptive: a)
    }
  }
}

extension InnerSolverSpec {
  public init(_ kind: InnerSolverKind, _ v: SettingValues<Value>) {
    switch kind {
    case .gd: self = .gd(lr: v.expression("lr"), steps: v.mostSteps)
    case .momentum:
      self = .momentum(
        lr: v.expression("lr"), momentum: v.expression("momentum"), steps: v.mostSteps)
    case .adam: self = .adam(lr: v.expression("lr"), moments: v.moments, steps: v.mostSteps)
    case .rule: self = .rule(update: v.expression("update"), steps: v.count("steps"))
    case .newton:
      self = .newton(
        tolerance: v.real("tol"), maxSteps: v.count("max_steps"), cgIterations: v.count("cg_iters"),
        steps: v.optionalCount("steps"))
    case .fixpoint: self = .fixpoint(tolerance: v.real("tol"), maxSteps: v.count("max_steps"))
    case .flow:
      let adaptive =
        v.choice("method") == "dopri5"
        ? AdaptiveTolerances(
          relative: v.real("rtol"), absolute: v.real("atol"), maxSteps: v.count("max_steps"))
        : nil
      self = .flow(
        horizon: v.expression("horizon"), steps: adaptive?.maxSteps ?? v.count("steps"),
        adaptive: adaptive)
    }
  }
}

/// An adaptive flow's step control: a step is accepted when its error
/// estimate's RMS norm, scaled by atol + rtol·|θ|, is at most 1.
public struct AdaptiveTolerances: Sendable, Hashable {
  public let relative: Double
  public let absolute: Double
  public let maxSteps: Int

  public init(relative: Double, absolute: Double, maxSteps: Int) {
    self.relative = relative
    self.absolute = absolute
    self.maxSteps = maxSteps
  }
}

/// The outer solver: every setting is known at compile time.
public enum OuterSolverSpec: Sendable, Equatable {
  case gd(lr: Double, steps: Int)
  case adam(lr: Double, moments: AdamMoments, steps: Int)

  public var kind: OuterSolverKind {
    switch self {
    case .gd: return .gd
    case .adam: return .adam
    }
  }

  public var name: String { kind.rawValue }
  public var learningRate: Double {
    switch self {
    case .gd(let lr, _), .adam(let lr, _, _): return lr
    }
  }
  public var steps: Int {
    switch self {
    case .gd(_, let t), .adam(_, _, let t): return t
    }
  }
}

extension OuterSolverSpec {
  public init<E>(_ kind: OuterSolverKind, _ v: SettingValues<E>) {
    switch kind {
    case .gd: self = .gd(lr: v.real("lr"), steps: v.count("steps"))
    case .adam: self = .adam(lr: v.real("lr"), moments: v.moments, steps: v.count("steps"))
    }
  }
}

/// A hypergradient method with its settings (METHODS.md).
public enum HypergradientMethod: Sendable, Hashable {
  case unrollReverse(checkpoints: Int?)
  case unrollForward
  case truncated(steps: Int)
  case firstOrder
  case finiteDifference(eps: Double)
  /// `fresh`: new draws at every outer step (the paper's setting); else the same draws
  /// throughout, or the rows of the data matrix named `draws`.
  case evograd(
    samples: Int, sigma: Double, tau: Double, seed: Int, fresh: Bool, draws: String? = nil)
  case implicitConjugateGradient(iterations: Int, tolerance: Double)
  case implicitNeumann(iterations: Int, alpha: Double)
  case implicitExact
  case closedForm
  /// The continuous adjoint of a gradient-flow inner solver.
  case adjoint
  /// A trained proxy θ ≈ P_α(φ), differentiated through P_α.
  case proxy(ProxySettings)

  public var kind: MethodKind {
    switch self {
    case .unrollReverse, .unrollForward: return .unroll
    case .truncated: return .truncated
    case .firstOrder: return .firstOrder
    case .finiteDifference: return .finiteDifference
    case .evograd: return .evograd
    case .implicitConjugateGradient, .implicitNeumann, .implicitExact: return .implicit
    case .closedForm: return .closedForm
    case .adjoint: return .adjoint
    case .proxy: return .proxy
    }
  }

  /// closed_form solves the quadratic itself; every other method needs the
  /// inner solver's θ.
  public var needsInnerSolver: Bool {
    if case .closedForm = self { return false }
    return true
  }
}

/// What a `hypergradient with` statement asks for: a method, or `auto`'s
/// choice under a memory budget.
public enum MethodChoice: Sendable, Hashable {
  case method(HypergradientMethod)
  case auto(budgetMB: Double)

  public var method: HypergradientMethod? {
    if case .method(let m) = self { return m }
    return nil
  }
}

extension MethodChoice {
  public init<E>(_ kind: MethodKind, _ v: SettingValues<E>) {
    switch kind {
    case .unroll:
      self = .method(
        v.choice("mode") == "forward"
          ? .unrollForward : .unrollReverse(checkpoints: v.optionalCount("checkpoints")))
    case .truncated: self = .method(.truncated(steps: v.count("steps")))
    case .firstOrder: self = .method(.firstOrder)
    case .finiteDifference: self = .method(.finiteDifference(eps: v.real("eps")))
    case .evograd:
      self = .method(
        .evograd(
          samples: v.count("samples"), sigma: v.real("sigma"), tau: v.real("tau"),
          seed: v.count("seed"), fresh: v.choice("draws") == "fresh",
          draws: ["fixed", "fresh"].contains(v.choice("draws")) ? nil : v.choice("draws")))
    case .implicit:
      switch v.choice("solver") {
      case "cg":
        self = .method(
          .implicitConjugateGradient(iterations: v.count("iters"), tolerance: v.real("tol")))
      case "neumann":
        self = .method(.implicitNeumann(iterations: v.count("iters"), alpha: v.real("alpha")))
      default: self = .method(.implicitExact)
      }
    case .closedForm: self = .method(.closedForm)
    case .auto: self = .auto(budgetMB: v.real("budget_mb"))
    case .adjoint: self = .method(.adjoint)
    case .proxy:
      let mode = ProxySettings.Mode(rawValue: v.choice("mode")) ?? .global
      self = .method(
        .proxy(
          ProxySettings(
            mode: mode, samples: v.count("samples"), sigma: v.real("sigma"),
            uniform: mode == .global && v.choice("dist") == "uniform", steps: v.count("steps"),
            refit: mode == .global ? 0 : v.count("refit"), lr: v.real("lr"),
            seed: v.count("seed"))))
    }
  }
}

/// `proxy(mode, ...)`'s settings (survey §4.2, eq. 33).
public struct ProxySettings: Sendable, Hashable {
  public enum Mode: String, Sendable, Hashable { case global, local, linearized }
  public let mode: Mode
  /// Draws of φ per training step.
  public let samples: Int
  public let sigma: Double
  /// Draws φ + σ·U(−1, 1) instead of φ + σ·N(0, I) (global only).
  public let uniform: Bool
  /// Training steps from the declared α at the first outer step.
  public let steps: Int
  /// Training steps at each later outer step from the previous α (0: global, held).
  public let refit: Int
  public let lr: Double
  public let seed: Int

  public init(
    mode: Mode, samples: Int = 8, sigma: Double = 0.1, uniform: Bool = false, steps: Int = 200,
    refit: Int = 20, lr: Double = 0.1, seed: Int = 1
  ) {
    self.mode = mode
    self.samples = samples
    self.sigma = sigma
    self.uniform = uniform
    self.steps = steps
    self.refit = mode == .global ? 0 : refit
    self.lr = lr
    self.seed = seed
  }
}
