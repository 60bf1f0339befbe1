/// The typed values `solve ... with` and `hypergradient with` statements
/// bind to (SolverBinder+Specs builds them). Every later stage switches on
/// these cases; none reads a setting by its name or restates a default.

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
  case newton(tolerance: Double, maxSteps: Int, cgIterations: Int)
  case fixpoint(tolerance: Double, maxSteps: Int)

  public var kind: InnerSolverKind {
    switch self {
    case .gd: return .gd
    case .momentum: return .momentum
    case .adam: return .adam
    case .rule: return .rule
    case .newton: return .newton
    case .fixpoint: return .fixpoint
    }
  }

  public var name: String { kind.rawValue }

  /// T for solvers that run a fixed number of steps (the ones unrolled
  /// methods differentiate); nil for those that stop at a tolerance.
  public var fixedSteps: Int? {
    switch self {
    case .gd(_, let t), .momentum(_, _, let t), .adam(_, _, let t), .rule(_, let t): return t
    case .newton, .fixpoint: return nil
    }
  }

  /// Whether it solves an `inner fixpoint` rather than minimising an inner loss.
  public var solvesFixpoint: Bool {
    if case .fixpoint = self { return true }
    return false
  }

  /// The learned update rule's expression, for the one solver that has one.
  public var update: Value? {
    if case .rule(let u, _) = self { return u }
    return nil
  }

  /// Every expression-valued setting, in catalogue order.
  public var expressions: [Value] {
    switch self {
    case .gd(let lr, _), .adam(let lr, _, _): return [lr]
    case .momentum(let lr, let mu, _): return [lr, mu]
    case .rule(let u, _): return [u]
    case .newton, .fixpoint: return []
    }
  }

  public func map<T: Sendable & Hashable, E: Error>(_ f: (Value) throws(E) -> T) throws(E) -> InnerSolverSpec<T> {
    switch self {
    case .gd(let lr, let t): return .gd(lr: try f(lr), steps: t)
    case .momentum(let lr, let mu, let t): return .momentum(lr: try f(lr), momentum: try f(mu), steps: t)
    case .adam(let lr, let m, let t): return .adam(lr: try f(lr), moments: m, steps: t)
    case .rule(let u, let t): return .rule(update: try f(u), steps: t)
    case .newton(let tol, let k, let cg): return .newton(tolerance: tol, maxSteps: k, cgIterations: cg)
    case .fixpoint(let tol, let k): return .fixpoint(tolerance: tol, maxSteps: k)
    }
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

/// A hypergradient method with its settings (METHODS.md).
public enum HypergradientMethod: Sendable, Hashable {
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

  public var kind: MethodKind {
    switch self {
    case .unrollReverse, .unrollForward: return .unroll
    case .truncated: return .truncated
    case .firstOrder: return .firstOrder
    case .finiteDifference: return .finiteDifference
    case .evograd: return .evograd
    case .implicitConjugateGradient, .implicitNeumann, .implicitExact: return .implicit
    case .closedForm: return .closedForm
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
