import BilevelCore

/// The method a program runs: its `hypergradient with` statement, or
/// `auto`'s pick (also when the statement is missing) under the memory
/// budget that applies: auto's own `budget_mb`, else the caller's.
public struct MethodSelection: Sendable {
  public let method: HypergradientMethod
  /// Why auto chose it; nil when the program names its method.
  public let reason: String?
  public let budgetBytes: Int

  public static let defaultBudgetMB = 1024.0

  public init(_ problem: BilevelProblem, budgetMB: Double? = nil) {
    var mb = budgetMB ?? MethodSelection.defaultBudgetMB
    let program = problem.source
    if program.isSingleLevel {
      // Nothing to differentiate through: first_order is the exact gradient of the outer loss.
      method = .firstOrder
      reason = "no inner problem: the gradient of the outer loss is exact"
      budgetBytes = Int(mb * 1024 * 1024)
      return
    }
    if let h = program.hypergradient, h.name != "auto", let m = HypergradientMethod(h) {
      method = m
      reason = nil
      budgetBytes = Int(mb * 1024 * 1024)
      return
    }
    if case .real(let b)? = program.hypergradient?.value("budget_mb") { mb = b }
    budgetBytes = Int(mb * 1024 * 1024)
    let pick = MethodEstimates.chooseMethod(ProblemSizes(problem), budgetBytes: budgetBytes)
    method = pick.method
    reason = "auto chooses \(pick.method.description): \(pick.reason)"
  }
}

extension MethodEstimates {
  /// `auto`'s pick as a method to run.
  public static func chooseMethod(_ s: ProblemSizes, budgetBytes: Int) -> (method: HypergradientMethod, reason: String) {
    let pick = choose(s, budgetBytes: budgetBytes)
    let method: HypergradientMethod
    if pick.method == "closed_form" {
      method = .closedForm
    } else if pick.method.hasPrefix("implicit(cg") {
      method = .implicitConjugateGradient(iterations: 20, tolerance: 1e-10)
    } else if pick.method == "unroll(forward)" {
      method = .unrollForward
    } else if pick.method.contains("checkpoints") {
      method = .unrollReverse(checkpoints: Int(pick.method.filter(\.isNumber)))
    } else {
      method = .unrollReverse(checkpoints: nil)
    }
    return (method, pick.reason)
  }
}

extension MethodEstimates {
  /// Every method's estimate, with the counts `method` names (its
  /// checkpoints, K, iterations or samples) and the defaults elsewhere.
  public static func all(_ s: ProblemSizes, costing method: HypergradientMethod) -> [MethodEstimate] {
    var checkpoints: Int? = nil, truncation: Int? = nil, iterations = 20, samples = 4
    switch method {
    case .unrollReverse(let k): checkpoints = k
    case .truncated(let k): truncation = k
    case .implicitConjugateGradient(let k, _), .implicitNeumann(let k, _): iterations = k
    case .evograd(let k, _, _, _): samples = k
    default: break
    }
    return all(s, checkpoints: checkpoints, truncation: truncation, implicitIterations: iterations, evograd: samples)
  }

  /// Whether a row of the table is `method`'s: the same name and the same
  /// mode or linear solver (counts aside).
  public static func describes(_ e: MethodEstimate, _ method: HypergradientMethod) -> Bool {
    kind(e.method) == kind(method.description)
  }

  /// `method`'s own row, costed with its counts.
  public static func estimate(_ s: ProblemSizes, of method: HypergradientMethod) -> MethodEstimate? {
    all(s, costing: method).first { describes($0, method) }
  }

  /// "unroll(reverse, checkpoints: 7)" → "unroll reverse checkpoints"; "implicit(cg, iters: 20)" → "implicit cg"; "evograd(4)" → "evograd".
  static func kind(_ text: String) -> String {
    let name = String(text.prefix { $0 != "(" })
    guard name == "unroll" || name == "implicit", let open = text.firstIndex(of: "(") else { return name }
    let argument = text[text.index(after: open)...].prefix { $0 != "," && $0 != ")" }
    return "\(name) \(argument)" + (text.contains("checkpoints") ? " checkpoints" : "")
  }
}
