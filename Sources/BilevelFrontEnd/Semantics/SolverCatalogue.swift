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

  init(_ name: String, _ kind: SettingKind, positional: Bool = false, required: Bool = false,
       default d: Double? = nil, choice: String? = nil, when condition: (String, String)? = nil) {
    self.name = name
    self.kind = kind
    self.positional = positional
    self.required = required
    self.defaultValue = d
    self.defaultChoice = choice
    self.condition = condition.map { (setting: $0.0, value: $0.1) }
  }
}

public struct SolverSchema: Sendable {
  public let name: String
  public let role: SolverRole
  public let settings: [SettingSchema]
  public let summary: String
}

public enum SolverCatalogue {
  static let adamMoments: [SettingSchema] = [
    SettingSchema("beta1", .real, default: 0.9),
    SettingSchema("beta2", .real, default: 0.999),
    SettingSchema("eps", .real, default: 1e-8),
  ]

  public static let all: [SolverSchema] = [
    // Inner solvers.
    SolverSchema(name: "gd", role: .inner, settings: [
      SettingSchema("lr", .expression, required: true), SettingSchema("steps", .count, required: true),
    ], summary: "gradient descent, θ ← θ − lr ∇θ L_in"),
    SolverSchema(name: "momentum", role: .inner, settings: [
      SettingSchema("lr", .expression, required: true), SettingSchema("steps", .count, required: true),
      SettingSchema("momentum", .expression, default: 0.9),
    ], summary: "heavy-ball momentum; the velocity is part of the unrolled state"),
    SolverSchema(name: "adam", role: .inner, settings: [
      SettingSchema("lr", .expression, required: true), SettingSchema("steps", .count, required: true),
    ] + adamMoments, summary: "Adam; both moments are part of the unrolled state"),
    SolverSchema(name: "rule", role: .inner, settings: [
      SettingSchema("update", .expression, required: true), SettingSchema("steps", .count, required: true),
    ], summary: "a learned update rule θ ← θ + update, where 'grad' is ∇θ L_in and the rule's parameters are outer variables"),
    SolverSchema(name: "newton", role: .inner, settings: [
      SettingSchema("tol", .real, default: 1e-10), SettingSchema("max_steps", .count, default: 50),
      SettingSchema("cg_iters", .count, default: 100),
    ], summary: "Newton-CG with Hessian-vector products and a line search"),
    SolverSchema(name: "fixpoint", role: .inner, settings: [
      SettingSchema("tol", .real, default: 1e-10), SettingSchema("max_steps", .count, default: 100),
    ], summary: "fixed-point iteration z ← E(z, φ) for an 'inner fixpoint'"),
    // Outer solvers.
    SolverSchema(name: "gd", role: .outer, settings: [
      SettingSchema("lr", .real, required: true), SettingSchema("steps", .count, required: true),
    ], summary: "gradient descent on the hypergradient"),
    SolverSchema(name: "adam", role: .outer, settings: [
      SettingSchema("lr", .real, required: true), SettingSchema("steps", .count, required: true),
    ] + adamMoments, summary: "Adam on the hypergradient"),
    // Hypergradient methods (METHODS.md).
    SolverSchema(name: "unroll", role: .method, settings: [
      SettingSchema("mode", .choice(["reverse", "forward"]), positional: true, choice: "reverse"),
      SettingSchema("checkpoints", .count, when: ("mode", "reverse")),
    ], summary: "differentiate through every inner step"),
    SolverSchema(name: "truncated", role: .method, settings: [
      SettingSchema("steps", .count, positional: true, required: true)
    ], summary: "reverse through only the last K inner steps"),
    SolverSchema(name: "first_order", role: .method, settings: [],
                 summary: "treat dθ/dφ as zero except where θ₀ = φ passes through"),
    SolverSchema(name: "finite_difference", role: .method, settings: [
      SettingSchema("eps", .real, default: 0.01)
    ], summary: "DARTS' finite-difference mixed product for a one-step unroll"),
    SolverSchema(name: "evograd", role: .method, settings: [
      SettingSchema("samples", .count, positional: true, required: true),
      SettingSchema("sigma", .real, default: 0.001), SettingSchema("tau", .real, default: 0.05),
      SettingSchema("seed", .count, default: 1),
    ], summary: "evolutionary proxy: a softmax-weighted mix of perturbed inner solutions"),
    SolverSchema(name: "implicit", role: .method, settings: [
      SettingSchema("solver", .choice(["cg", "neumann", "exact"]), positional: true, required: true),
      SettingSchema("iters", .count, default: 20, when: ("solver", "cg")),
      SettingSchema("tol", .real, default: 1e-10, when: ("solver", "cg")),
      SettingSchema("iters", .count, default: 20, when: ("solver", "neumann")),
      SettingSchema("alpha", .real, required: true, when: ("solver", "neumann")),
    ], summary: "implicit function theorem at the inner solution"),
    SolverSchema(name: "closed_form", role: .method, settings: [],
                 summary: "exact solve of a quadratic inner problem"),
    SolverSchema(name: "auto", role: .method, settings: [
      SettingSchema("budget_mb", .real, default: 1024)
    ], summary: "pick a method from the plan's cost figures"),
  ]

  /// Inner solvers that run a fixed number of steps: the ones unrolled methods differentiate.
  public static let fixedStepSolvers = ["gd", "momentum", "adam", "rule"]

  public static func schemas(_ role: SolverRole) -> [SolverSchema] { all.filter { $0.role == role } }

  public static func schema(_ name: String, _ role: SolverRole) -> SolverSchema? {
    all.first { $0.role == role && $0.name == name }
  }
}
