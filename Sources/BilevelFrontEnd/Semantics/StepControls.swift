import Foundation

/// How a solver's learning rate changes over its steps.
public enum LearningRateSchedule: Sendable, Hashable {
  case constant
  /// lr · decay^⌊k / every⌋.
  case step(every: Int, decay: Double)
  /// lr · ½(1 + cos(π k / K)) over the solver's K steps.
  case cosine
}

/// The schedule, warm-up, gradient clipping and stopping tolerance that
/// the fixed-step inner solvers (gd, momentum, adam) and the outer solvers
/// share; none is set unless written, so a program without them runs as before.
public struct StepControls: Sendable, Hashable {
  public var schedule = LearningRateSchedule.constant
  /// lr · min(1, (k + 1) / warmup) over the first steps.
  public var warmup: Int?
  /// The gradient is rescaled to this norm when longer.
  public var clip: Double?
  /// Stop once the gradient's norm is at most this.
  public var tolerance: Double?

  public init() {}

  /// Whether the learning rate changes from step to step.
  public var isScheduled: Bool { schedule != .constant || warmup != nil }

  /// The factor on the learning rate at step k (0-based) of `total`.
  public func rateFactor(step k: Int, of total: Int) -> Double {
    var f = 1.0
    switch schedule {
    case .constant: break
    case .step(let every, let decay): f = pow(decay, Double(k / every))
    case .cosine:
      let K = Double(max(total, 1))
      f = 0.5 * (1 + cos(Double.pi * min(Double(k), K) / K))
    }
    if let w = warmup { f *= min(1, Double(k + 1) / Double(w)) }
    return f
  }

  /// The scale clipping puts on a gradient of this norm (1: unclipped).
  public func clipFactor(norm: Double) -> Double {
    guard let c = clip, norm > c else { return 1 }
    return c / norm
  }
}

extension StepControls {
  public init<E>(_ v: SettingValues<E>) {
    self.init()
    guard v.schema.settings.contains(where: { $0.name == "clip" }) else { return }
    switch v.optionalChoice("schedule") {
    case "step"?: schedule = .step(every: v.count("every"), decay: v.real("decay"))
    case "cosine"?: schedule = .cosine
    default: schedule = .constant
    }
    warmup = v.optionalCount("warmup")
    clip = v.optionalReal("clip")
    tolerance = v.optionalReal("tol")
  }

  /// The settings of a schedule and clipping; `tol` is the solver's own.
  static func settings(_ gradient: String) -> [SettingSchema] {
    [
      SettingSchema(
        "schedule", .choice(["constant", "step", "cosine"]),
        "how lr changes over the steps (when not written: constant); step: × decay every 'every' steps; cosine: × ½(1 + cos(π k / K)) over the K steps"
      ),
      SettingSchema(
        "every", .count, required: true, when: ("schedule", "step"),
        "steps between decays of lr"),
      SettingSchema(
        "decay", .real, default: 0.5, when: ("schedule", "step"), range: .positive,
        "the factor on lr at each decay"),
      SettingSchema(
        "warmup", .count,
        "lr rises linearly over the first 'warmup' steps: × min(1, (k + 1) / warmup)"),
      SettingSchema(
        "clip", .real, range: .positive,
        "rescale \(gradient) to this norm when it is longer (the norm over all variables together)"),
    ]
  }
}

/// Where each outer step's inner solve starts (`start:` of gd, momentum and
/// adam): at θ₀ every time, or where the previous outer step's solve ended.
public enum InnerStart: String, Sendable {
  case cold, warm

  public init<E>(_ kind: InnerSolverKind, _ v: SettingValues<E>) {
    switch kind {
    case .gd, .momentum, .adam:
      guard case .symbol(let s)? = v.value("start") else {
        self = .cold
        return
      }
      self = InnerStart(rawValue: s) ?? .cold
    case .rule, .newton, .fixpoint, .flow: self = .cold
    }
  }
}

/// The settings a fixed-step solver takes beside its own (SolverCatalogue.all).
extension SolverCatalogue {
  /// Warm start: the inner state carries over from one outer step to the next.
  /// No default, so a program that does not write it prints as before; absent means cold.
  static let startSetting = SettingSchema(
    "start", .choice(["cold", "warm"]),
    "cold (when not written): every outer step starts from the inner variables' initial values; warm: from where the previous outer step's solve ended, optimiser state included"
  )

  static let outerTolerance = SettingSchema(
    "tol", .real, range: .positive, "stop once the hypergradient's norm is at most tol")

  /// A fixed-step solver that stops early: instead of `steps`.
  static let innerStopping: [SettingSchema] = [
    SettingSchema(
      "max_steps", .count,
      "most inner steps when stopping at tol (instead of steps); the unrolled methods differentiate the steps taken"
    ),
    SettingSchema(
      "tol", .real, range: .positive, "stop the inner solve once ‖∇θ L_in‖ ≤ tol (with max_steps)"),
  ]
}
