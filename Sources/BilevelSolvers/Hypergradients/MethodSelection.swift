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
