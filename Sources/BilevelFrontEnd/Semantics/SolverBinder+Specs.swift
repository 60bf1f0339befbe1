/// A setting's value once elaborated: `Expression` is what an expression
/// setting becomes (a graph node in the core).
public enum BoundValue<Expression: Sendable>: Sendable {
  case expression(Expression)
  case integer(Int)
  case real(Double)
  case symbol(String)
}

/// One solver call's elaborated settings, every active one present (defaults
/// filled in from the catalogue), read by the spec builders below. Reading a
/// name the schema does not have is a programming error and traps, so a
/// misspelt key cannot quietly fall back to a default.
public struct SettingValues<Expression: Sendable> {
  public let schema: SolverSchema
  let values: [(name: String, value: BoundValue<Expression>)]

  public init(schema: SolverSchema, values: [(name: String, value: BoundValue<Expression>)]) {
    self.schema = schema
    self.values = values
  }

  func value(_ name: String) -> BoundValue<Expression>? {
    precondition(schema.settings.contains { $0.name == name }, "'\(schema.name)' has no setting '\(name)'")
    return values.first { $0.name == name }?.value
  }

  func expression(_ name: String) -> Expression {
    guard case .expression(let e)? = value(name) else { preconditionFailure("'\(name)' is not an expression") }
    return e
  }

  func count(_ name: String) -> Int {
    guard let k = optionalCount(name) else { preconditionFailure("'\(name)' has no value") }
    return k
  }

  /// A count without a default (unroll's checkpoints): nil when not written.
  func optionalCount(_ name: String) -> Int? {
    switch value(name) {
    case .integer(let k)?: return k
    case nil: return nil
    default: preconditionFailure("'\(name)' is not a count")
    }
  }

  func real(_ name: String) -> Double {
    switch value(name) {
    case .real(let x)?: return x
    case .integer(let k)?: return Double(k)
    default: preconditionFailure("'\(name)' is not a number")
    }
  }

  func choice(_ name: String) -> String {
    guard case .symbol(let s)? = value(name) else { preconditionFailure("'\(name)' is not a choice") }
    return s
  }

  var moments: AdamMoments { AdamMoments(beta1: real("beta1"), beta2: real("beta2"), eps: real("eps")) }
}

extension InnerSolverSpec {
  public init(_ kind: InnerSolverKind, _ v: SettingValues<Value>) {
    switch kind {
    case .gd: self = .gd(lr: v.expression("lr"), steps: v.count("steps"))
    case .momentum: self = .momentum(lr: v.expression("lr"), momentum: v.expression("momentum"), steps: v.count("steps"))
    case .adam: self = .adam(lr: v.expression("lr"), moments: v.moments, steps: v.count("steps"))
    case .rule: self = .rule(update: v.expression("update"), steps: v.count("steps"))
    case .newton:
      self = .newton(tolerance: v.real("tol"), maxSteps: v.count("max_steps"), cgIterations: v.count("cg_iters"))
    case .fixpoint: self = .fixpoint(tolerance: v.real("tol"), maxSteps: v.count("max_steps"))
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

extension MethodChoice {
  public init<E>(_ kind: MethodKind, _ v: SettingValues<E>) {
    switch kind {
    case .unroll:
      self = .method(v.choice("mode") == "forward" ? .unrollForward : .unrollReverse(checkpoints: v.optionalCount("checkpoints")))
    case .truncated: self = .method(.truncated(steps: v.count("steps")))
    case .firstOrder: self = .method(.firstOrder)
    case .finiteDifference: self = .method(.finiteDifference(eps: v.real("eps")))
    case .evograd:
      self = .method(.evograd(samples: v.count("samples"), sigma: v.real("sigma"), tau: v.real("tau"), seed: v.count("seed")))
    case .implicit:
      switch v.choice("solver") {
      case "cg": self = .method(.implicitConjugateGradient(iterations: v.count("iters"), tolerance: v.real("tol")))
      case "neumann": self = .method(.implicitNeumann(iterations: v.count("iters"), alpha: v.real("alpha")))
      default: self = .method(.implicitExact)
      }
    case .closedForm: self = .method(.closedForm)
    case .auto: self = .auto(budgetMB: v.real("budget_mb"))
    }
  }
}
