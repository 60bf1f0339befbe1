/// What each `solve ... with` and `hypergradient with` accepts: names,
/// settings, their kinds and defaults (LANGUAGE.md, METHODS.md). The front
/// end checks calls against this table; the core evaluates the values.
public enum SolverRole: String, Sendable {
  case inner = "inner solver", outer = "outer solver", method = "hypergradient method"
}

public enum SettingKind: Sendable, Equatable {
  /// A scalar expression; inner-solver settings may use outer variables.
  case expression
  /// A positive integer known at compile time.
  case count
  /// A number known at compile time.
  case real
  /// One of a few names, written bare: `implicit(cg)`.
  case choice([String])
  /// A learned rule's update: per entry of the one inner variable, reading
  /// it and 'grad' (∇θ L_in).
  case update
}

/// The values a setting accepts beyond its kind; checked at compile time
/// (an inner-solver expression when it is a constant).
public enum SettingRange: Sendable, Equatable {
  case any
  /// x > 0.
  case positive
  /// 0 ≤ x < 1: decay rates.
  case fraction
  /// A whole number ≥ 1 (every `.count`).
  case positiveInteger

  public func contains(_ x: Double) -> Bool {
    switch self {
    case .any: return x.isFinite
    case .positive: return x > 0 && x.isFinite
    case .fraction: return x >= 0 && x < 1
    case .positiveInteger: return x >= 1 && x == x.rounded()
    }
  }

  public var description: String {
    switch self {
    case .any: return "any number"
    case .positive: return "> 0"
    case .fraction: return "0 ≤ x < 1"
    case .positiveInteger: return "whole number ≥ 1"
    }
  }
}

public struct SettingSchema: Sendable {
  public let name: String
  public let kind: SettingKind
  /// May be given without its label, in this position.
  public let positional: Bool
  public let required: Bool
  public let defaultValue: Double?
  public let defaultChoice: String?
  /// The setting exists only when another setting has this value.
  public let condition: (setting: String, value: String)?
  /// An expression that may instead have the shape of every inner variable,
  /// one value per entry (Meta-SGD's learning rates).
  public let perEntry: Bool
  /// A `.choice` that may instead name a data matrix (evograd's draws).
  public let orData: Bool
  /// One line for the reference (`bilevelc help settings`).
  public let meaning: String
  public let range: SettingRange

  init(
    _ name: String, _ kind: SettingKind, positional: Bool = false, required: Bool = false,
    default d: Double? = nil, choice: String? = nil, when condition: (String, String)? = nil,
    perEntry: Bool = false, orData: Bool = false,
    range: SettingRange? = nil, _ meaning: String
  ) {
    self.orData = orData
    self.meaning = meaning
    self.range = range ?? (kind == .count ? .positiveInteger : .any)
    self.name = name
    self.kind = kind
    self.positional = positional
    self.required = required
    self.defaultValue = d
    self.defaultChoice = choice
    self.condition = condition.map { (setting: $0.0, value: $0.1) }
    self.perEntry = perEntry
  }
}

/// The solvers and methods the language has: the catalogue's names, one
/// case each, so every switch over them is exhaustive.
public enum InnerSolverKind: String, Sendable, CaseIterable {
  case gd, momentum, adam, rule, newton, fixpoint, flow
}

public enum OuterSolverKind: String, Sendable, CaseIterable {
  case gd, adam
}

public enum MethodKind: String, Sendable, CaseIterable {
  case unroll, truncated
  case firstOrder = "first_order"
  case finiteDifference = "finite_difference"
  case evograd, implicit
  case closedForm = "closed_form"
  case auto
  case adjoint
  case proxy
}

public enum SolverKind: Sendable, Equatable {
  case inner(InnerSolverKind), outer(OuterSolverKind), method(MethodKind)

  public var name: String {
    switch self {
    case .inner(let k): return k.rawValue
    case .outer(let k): return k.rawValue
    case .method(let k): return k.rawValue
    }
  }

  public var role: SolverRole {
    switch self {
    case .inner: return .inner
    case .outer: return .outer
    case .method: return .method
    }
  }
}

public struct SolverSchema: Sendable {
  public let kind: SolverKind
  public let settings: [SettingSchema]
  public let summary: String
  public var name: String { kind.name }
  public var role: SolverRole { kind.role }

  init(_ kind: SolverKind, settings: [SettingSchema], summary: String) {
    self.kind = kind
    self.settings = settings
    self.summary = summary
  }
}

public enum SolverCatalogue {
  static let adamMoments: [SettingSchema] = [
    SettingSchema(
      "beta1", .real, default: 0.9, range: .fraction, "decay of the first-moment (mean) estimate"),
    SettingSchema(
      "beta2", .real, default: 0.999, range: .fraction, "decay of the second-moment estimate"),
    SettingSchema(
      "eps", .real, default: 1e-8, range: .positive, "added to √v so the step stays finite"),
  ]

  public static let all: [SolverSchema] = [
    // Inner solvers.
    SolverSchema(
      .inner(.gd),
      settings: [
        SettingSchema(
          "lr", .expression, required: true, perEntry: true, range: .positive,
          "step size; may use outer variables, have every inner variable's shape (one per entry), or be vector[d] over all inner variables' entries in order (one per entry of θ: per layer, Meta-SGD on a network)"
        ), SettingSchema("steps", .count, "inner steps, all unrolled (or max_steps)"),
        startSetting,
      ] + innerStopping + StepControls.settings("∇θ L_in"),
      summary: "gradient descent, θ ← θ − lr ∇θ L_in"),
    SolverSchema(
      .inner(.momentum),
      settings: [
        SettingSchema(
          "lr", .expression, required: true, perEntry: true, range: .positive,
          "step size; may use outer variables, have every inner variable's shape (one per entry), or be vector[d] over all inner variables' entries in order (one per entry of θ: per layer, Meta-SGD on a network)"
        ), SettingSchema("steps", .count, "inner steps, all unrolled (or max_steps)"),
        startSetting,
      ] + innerStopping + StepControls.settings("∇θ L_in") + [
        SettingSchema("momentum", .expression, default: 0.9, range: .fraction, "velocity decay")
      ], summary: "heavy-ball momentum; the velocity is part of the unrolled state"),
    SolverSchema(
      .inner(.adam),
      settings: [
        SettingSchema(
          "lr", .expression, required: true, perEntry: true, range: .positive,
          "step size; may use outer variables, have every inner variable's shape (one per entry), or be vector[d] over all inner variables' entries in order (one per entry of θ: per layer, Meta-SGD on a network)"
        ), SettingSchema("steps", .count, "inner steps, all unrolled (or max_steps)"),
        startSetting,
      ] + innerStopping + StepControls.settings("∇θ L_in") + adamMoments,
      summary: "Adam; both moments are part of the unrolled state"),
    SolverSchema(
      .inner(.rule),
      settings: [
        SettingSchema(
          "update", .update, required: true,
          "the step added to θ, per entry; reads θ, 'grad' and the new values of the rule's states"),
        SettingSchema("steps", .count, required: true, "inner steps, all unrolled"),
      ],
      summary:
        "a learned update rule θ ← θ + update, where 'grad' is ∇θ L_in and the rule's parameters are outer variables; "
        + "'state h: TYPE = INIT then NEXT' statements before it add per-coordinate recurrent state (an LSTM or GRU cell), unrolled with θ"
    ),
    SolverSchema(
      .inner(.newton),
      settings: [
        SettingSchema("tol", .real, default: 1e-10, range: .positive, "stop when ‖∇θ L_in‖ ≤ tol"),
        SettingSchema("max_steps", .count, default: 50, "most Newton steps"),
        SettingSchema("cg_iters", .count, default: 100, "most CG iterations per Newton step"),
        SettingSchema(
          "steps", .count,
          "run exactly this many full Newton steps (no line search, no tolerance; no setting: stop at tol)"
        ),
      ], summary: "Newton-CG with Hessian-vector products and a line search"),
    SolverSchema(
      .inner(.fixpoint),
      settings: [
        SettingSchema(
          "tol", .real, default: 1e-10, range: .positive, "stop when ‖E(z, φ) − z‖ ≤ tol"),
        SettingSchema("max_steps", .count, default: 100, "most iterations"),
      ], summary: "fixed-point iteration z ← E(z, φ) for an 'inner fixpoint'"),
    SolverSchema(
      .inner(.flow),
      settings: [
        SettingSchema(
          "horizon", .expression, required: true, range: .positive,
          "the time t the flow is integrated to; may use outer variables (a learned horizon)"),
        SettingSchema(
          "method", .choice(["rk4", "dopri5"]), choice: "rk4",
          "rk4: fixed steps; dopri5: adaptive Dormand–Prince 5(4) with error control"),
        SettingSchema(
          "steps", .count, required: true, when: ("method", "rk4"),
          "RK4 steps of horizon/steps each, all unrolled"),
        SettingSchema(
          "rtol", .real, default: 1e-6, when: ("method", "dopri5"), range: .positive,
          "relative tolerance of each step's error estimate"),
        SettingSchema(
          "atol", .real, default: 1e-9, when: ("method", "dopri5"), range: .positive,
          "absolute tolerance of each step's error estimate"),
        SettingSchema(
          "max_steps", .count, default: 10000, when: ("method", "dopri5"),
          "most accepted steps before the solve stops with a fault"),
      ],
      summary:
        "gradient flow dθ/dt = −∇θ L_in to t = horizon, by fixed-step RK4 (horizon/steps per step) or adaptive Dormand–Prince 5(4); "
        + "the hypergradients differentiate the accepted steps, the last one's length horizon − t"),
    // Outer solvers.
    SolverSchema(
      .outer(.gd),
      settings: [
        SettingSchema("lr", .real, required: true, range: .positive, "step size on φ"),
        SettingSchema("steps", .count, required: true, "outer steps, one hypergradient each"),
        outerTolerance,
      ] + StepControls.settings("the hypergradient"),
      summary: "gradient descent on the hypergradient"),
    SolverSchema(
      .outer(.adam),
      settings: [
        SettingSchema("lr", .real, required: true, range: .positive, "step size on φ"),
        SettingSchema("steps", .count, required: true, "outer steps, one hypergradient each"),
        outerTolerance,
      ] + StepControls.settings("the hypergradient") + adamMoments,
      summary: "Adam on the hypergradient"),
    // Hypergradient methods (METHODS.md).
    SolverSchema(
      .method(.unroll),
      settings: [
        SettingSchema(
          "mode", .choice(["reverse", "forward"]), positional: true, choice: "reverse",
          "reverse: one backward pass (memory ∝ steps); forward: one tangent per entry of φ"),
        SettingSchema(
          "checkpoints", .count, when: ("mode", "reverse"),
          "keep this many states and recompute the rest (no setting: keep all)"),
      ], summary: "differentiate through every inner step"),
    SolverSchema(
      .method(.truncated),
      settings: [
        SettingSchema(
          "steps", .count, positional: true, required: true,
          "how many of the last inner steps to differentiate (biased when fewer than all)")
      ], summary: "reverse through only the last K inner steps"),
    SolverSchema(
      .method(.firstOrder), settings: [],
      summary: "treat dθ/dφ as zero except where θ₀ = φ passes through"),
    SolverSchema(
      .method(.finiteDifference),
      settings: [
        SettingSchema(
          "eps", .real, default: 0.01, range: .positive, "perturbation of θ, scaled by 1/‖∇θ L_out‖"
        )
      ], summary: "DARTS' finite-difference mixed product for a one-step unroll"),
    SolverSchema(
      .method(.evograd),
      settings: [
        SettingSchema(
          "samples", .count, positional: true, required: true,
          "perturbed copies of the inner solution"),
        SettingSchema(
          "sigma", .real, default: 0.001, range: .positive,
          "standard deviation of the perturbations"),
        SettingSchema(
          "tau", .real, default: 0.05, range: .positive,
          "temperature of the softmax over the copies' inner losses"),
        SettingSchema("seed", .count, default: 1, "seed of the perturbations"),
        SettingSchema(
          "draws", .choice(["fixed", "fresh"]), choice: "fixed", orData: true,
          "fixed: the same draws at every outer step (the map check differentiates); fresh: new draws each outer step, as the paper runs it; or a data matrix[samples, d] whose rows are the draws ε_k"
        ),
      ], summary: "evolutionary proxy: a softmax-weighted mix of perturbed inner solutions"),
    SolverSchema(
      .method(.implicit),
      settings: [
        SettingSchema(
          "solver", .choice(["cg", "neumann", "exact"]), positional: true, required: true,
          "how H v = ∇θ L_out is solved: conjugate gradients, a Neumann series, or a dense factorisation"
        ),
        SettingSchema(
          "iters", .count, default: 20, when: ("solver", "cg"),
          "most CG iterations (a cap below n is biased)"),
        SettingSchema(
          "tol", .real, default: 1e-10, when: ("solver", "cg"), range: .positive,
          "stop CG when the residual is below tol"),
        SettingSchema(
          "iters", .count, default: 20, when: ("solver", "neumann"),
          "terms of the series (biased: truncated)"),
        SettingSchema(
          "alpha", .real, required: true, when: ("solver", "neumann"), range: .positive,
          "scale: the series converges when α‖H‖ < 2"),
      ], summary: "implicit function theorem at the inner solution"),
    SolverSchema(
      .method(.closedForm), settings: [],
      summary: "exact solve of a quadratic inner problem"),
    SolverSchema(
      .method(.auto),
      settings: [
        SettingSchema(
          "budget_mb", .real, default: 1024, range: .positive,
          "memory the chosen method may plan to use, in MB")
      ], summary: "pick a method from the plan's cost figures"),
    SolverSchema(
      .method(.adjoint), settings: [],
      summary:
        "the adjoint ODE of a gradient flow, integrated back from the horizon by RK4, or for dopri5 over the accepted steps reversed with the same tableau"
    ),
    SolverSchema(.method(.proxy), settings: proxySettings, summary: proxySummary),
  ]

  static let proxySummary =
    "a trained proxy θ ≈ P_α(φ) (a 'proxy' statement), differentiated through P_α: global (Lorraine & Duvenaud), local / self-tuning (MacKay et al.) or linearized (Bae & Grosse)"
  static let proxySettings: [SettingSchema] = [
    SettingSchema(
      "mode", .choice(["global", "local", "linearized"]), positional: true, required: true,
      "global: α trained once over φ drawn around the start, then held; local: refit around each φ; linearized: refit on the first-order expansion of P_α in φ"
    ),
    SettingSchema("samples", .count, default: 8, "draws of φ per training step"),
    SettingSchema(
      "sigma", .real, default: 0.1, range: .positive,
      "scale of the draws of φ around the outer point"
    ),
    SettingSchema(
      "dist", .choice(["normal", "uniform"]), choice: "normal", when: ("mode", "global"),
      "the draws' distribution: φ + σ·N(0, I), or φ + σ·U(−1, 1) per entry"),
    SettingSchema("steps", .count, default: 200, "gradient steps on α from its declared start"),
    SettingSchema(
      "refit", .count, default: 20, when: ("mode", "local"),
      "gradient steps on α at each later outer step, from the previous α"),
    SettingSchema(
      "refit", .count, default: 20, when: ("mode", "linearized"),
      "gradient steps on α at each later outer step, from the previous α"),
    SettingSchema("lr", .real, default: 0.1, range: .positive, "step size of the training of α"),
    SettingSchema("seed", .count, default: 1, "seed of the draws"),
  ]

  public static func schemas(_ role: SolverRole) -> [SolverSchema] {
    all.filter { $0.role == role }
  }

  public static func schema(_ name: String, _ role: SolverRole) -> SolverSchema? {
    all.first { $0.role == role && $0.name == name }
  }

  public static func schema(_ kind: SolverKind) -> SolverSchema { all.first { $0.kind == kind }! }
}
