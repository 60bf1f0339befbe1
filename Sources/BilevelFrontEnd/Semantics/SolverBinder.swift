/// A solver call matched against its schema: each active setting with the
/// expression that gives it (nil: the default applies).
public struct BoundSetting: Sendable {
  public let schema: SettingSchema
  public let value: Expr?
  public var name: String { schema.name }
}

public struct BoundSolverCall: Sendable {
  public let schema: SolverSchema
  public let settings: [BoundSetting]
  public let call: SolverCall
}

/// Checks a `solve`/`hypergradient` call's names, labels and arity against
/// the catalogue. Values are checked later, when their shapes are known.
public enum SolverBinder {
  public static func bind(
    _ call: SolverCall, role: SolverRole
  ) -> Result<BoundSolverCall, CompileFailure> {
    let schema: SolverSchema
    switch lookUp(call, role: role) {
    case .success(let s): schema = s
    case .failure(let f): return .failure(f)
    }
    var binding = Binding(schema: schema, call: call)
    binding.assignArguments()
    binding.resolveChoices()
    binding.reportInactiveSettings()
    let settings = binding.activeSettings()
    if !binding.diagnostics.isEmpty { return .failure(CompileFailure(binding.diagnostics)) }
    return .success(BoundSolverCall(schema: schema, settings: settings, call: call))
  }

  /// The call's schema, or why its name is not one of `role`'s.
  static func lookUp(_ call: SolverCall, role: SolverRole) -> Result<SolverSchema, CompileFailure> {
    let name = call.name.name
    if let schema = SolverCatalogue.schema(name, role) { return .success(schema) }
    if let other = SolverCatalogue.all.first(where: { $0.name == name }) {
      return .failure(
        fail(
          .wrongSolverRole(
            name, is: other.role.rawValue, expected: role.rawValue, options: names(role)),
          at: call.name.range))
    }
    let hint = Suggestions.hint(for: name, among: SolverCatalogue.schemas(role).map(\.name))
    return .failure(
      fail(
        .unknownSolver(name, role: role.rawValue, hint: hint, options: names(role)),
        at: call.name.range))
  }

  /// One call being matched against its schema, step by step.
  struct Binding {
    let schema: SolverSchema
    let call: SolverCall
    var diagnostics: [Diagnostic] = []
    /// A misspelled setting is usually the required one: report it once, not also as missing.
    var reportedUnknown = false
    var given: [String: Argument] = [:]
    var order: [String] = []
    /// Choices decide which conditional settings exist.
    var choices: [String: String] = [:]
    /// Settings that depend on a misspelled choice are not reported again.
    var failedChoices: Set<String> = []

    init(schema: SolverSchema, call: SolverCall) {
      self.schema = schema
      self.call = call
    }

    var name: String { schema.name }

    /// Labels, or positions for the settings that may be given without one.
    mutating func assignArguments() {
      let positional = unique(schema.settings.filter(\.positional).map(\.name))
      var nextPositional = 0
      for arg in call.arguments {
        let key: String
        if let label = arg.label {
          key = label.name
        } else {
          guard nextPositional < positional.count else {
            diagnostics.append(.error(.tooManyPositional(name, allowed: positional), at: arg.range))
            continue
          }
          key = positional[nextPositional]
          nextPositional += 1
        }
        if given[key] != nil {
          diagnostics.append(.error(.duplicateSetting(key, solver: name), at: arg.range))
          continue
        }
        given[key] = arg
        order.append(key)
      }
    }

    /// Each choice setting's value, written or default.
    mutating func resolveChoices() {
      for s in schema.settings {
        guard case .choice(let options) = s.kind else { continue }
        if let arg = given[s.name] {
          guard case .name(let v) = arg.value.kind, options.contains(v) || s.orData else {
            let written = arg.value.range.text
            diagnostics.append(
              .error(
                .unknownChoice(
                  written, setting: s.name, solver: name, options: options,
                  hint: Suggestions.hint(for: written, among: options)), at: arg.value.range))
            failedChoices.insert(s.name)
            continue
          }
          choices[s.name] = v
        } else if let d = s.defaultChoice {
          choices[s.name] = d
        }
      }
    }

    var active: [SettingSchema] {
      schema.settings.filter { s in s.condition.map { choices[$0.setting] == $0.value } ?? true }
    }

    /// Settings written that do not exist here: unknown, or needing another choice.
    mutating func reportInactiveSettings() {
      let active = self.active
      for key in order where !active.contains(where: { $0.name == key }) {
        let arg = given[key]!
        let range = arg.label?.range ?? arg.range
        if let conditional = schema.settings.first(where: { $0.name == key }),
          let c = conditional.condition
        {
          if failedChoices.contains(c.setting) { continue }
          let owners = schema.settings.filter { $0.name == key }.compactMap { $0.condition?.value }
          diagnostics.append(
            .error(
              .settingNeedsChoice(key, solver: name, choiceSetting: c.setting, values: owners),
              at: range))
        } else {
          var hint = Suggestions.hint(for: key, among: unique(active.map(\.name)))
          if hint.isEmpty, let alias = settingAliases[key],
            active.contains(where: { $0.name == alias })
          {
            hint = "; did you mean '\(alias)'?"
          }
          reportedUnknown = true
          diagnostics.append(
            .error(
              .unknownSetting(key, solver: name, hint: hint, options: unique(active.map(\.name))),
              at: range))
        }
      }
    }

    /// Every active setting with its written expression (nil: the default applies); a missing required one is reported.
    mutating func activeSettings() -> [BoundSetting] {
      var settings: [BoundSetting] = []
      for s in active {
        // A misspelled choice was reported already.
        if case .choice = s.kind, choices[s.name] == nil, given[s.name] != nil { continue }
        if let arg = given[s.name] {
          settings.append(BoundSetting(schema: s, value: arg.value))
        } else if s.required {
          if reportedUnknown { continue }
          diagnostics.append(
            .error(
              .missingSetting(s.name, solver: name, example: example(schema, choices: choices)),
              at: call.range))
        } else {
          settings.append(BoundSetting(schema: s, value: nil))
        }
      }
      return settings
    }
  }

  /// Names other libraries use for these settings (PyTorch, SciPy).
  static let settingAliases: [String: String] = [
    "learning_rate": "lr", "step_size": "lr", "eta": "lr",
    "num_steps": "steps", "n_steps": "steps", "iterations": "steps", "epochs": "steps",
    "max_iter": "max_steps", "maxiter": "max_steps",
  ]

  static func fail(_ m: Message, at r: SourceRange) -> CompileFailure {
    CompileFailure([.error(m, at: r)])
  }

  static func names(_ role: SolverRole) -> [String] {
    unique(SolverCatalogue.schemas(role).map(\.name))
  }

  static func unique(_ xs: [String]) -> [String] {
    var seen: [String] = []
    for x in xs where !seen.contains(x) { seen.append(x) }
    return seen
  }

  /// A correct call to show in "missing setting" errors.
  static func example(_ schema: SolverSchema, choices: [String: String]) -> String {
    let active = schema.settings.filter { s in
      s.condition.map { choices[$0.setting] == $0.value } ?? true
    }
    let parts = active.filter(\.required).map { s -> String in
      switch s.kind {
      case .choice(let options): return choices[s.name] ?? options[0]
      case .count: return "\(s.name): 100"
      case .real, .expression, .update: return "\(s.name): 0.1"
      }
    }
    return "\(schema.name)(\(parts.joined(separator: ", ")))"
  }
}
