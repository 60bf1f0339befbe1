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
    precondition(
      schema.settings.contains { $0.name == name }, "'\(schema.name)' has no setting '\(name)'")
    return values.first { $0.name == name }?.value
  }

  func expression(_ name: String) -> Expression {
    guard case .expression(let e)? = value(name) else {
      preconditionFailure("'\(name)' is not an expression")
    }
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
    guard case .symbol(let s)? = value(name) else {
      preconditionFailure("'\(name)' is not a choice")
    }
    return s
  }

  /// A number without a default (clip, tol): nil when not written.
  func optionalReal(_ name: String) -> Double? {
    switch value(name) {
    case .real(let x)?: return x
    case .integer(let k)?: return Double(k)
    case nil: return nil
    default: preconditionFailure("'\(name)' is not a number")
    }
  }

  /// A choice without a default (schedule, start): nil when not written.
  func optionalChoice(_ name: String) -> String? {
    guard case .symbol(let s)? = value(name) else { return nil }
    return s
  }

  /// A fixed-step inner solver's T: `steps`, or the cap `max_steps` (the
  /// elaborator reports a call with neither; 1 keeps the spec well formed).
  var mostSteps: Int { optionalCount("steps") ?? optionalCount("max_steps") ?? 1 }

  var moments: AdamMoments {
    AdamMoments(beta1: real("beta1"), beta2: real("beta2"), eps: real("eps"))
  }
}
