import BilevelCore
import BilevelFrontEnd

/// The method a program runs: its `hypergradient with` statement, or
/// `auto`'s pick (also when the statement is missing) under the memory
/// budget that applies: auto's own `budget_mb`, else the caller's.
public struct MethodSelection: Sendable {
  public let method: HypergradientMethod
  /// Why auto chose it; nil when the program names its method.
  public let reason: String?
  public let budgetBytes: Int
  /// What the run holds of data whatever the method: the program's data
  /// and the copy its plans share (ConstantPool), which the budget covers too.
  public let dataBytes: Int

  public static let defaultBudgetMB = 1024.0

  public init(_ problem: BilevelProblem, budgetMB: Double? = nil) {
    var mb = budgetMB ?? MethodSelection.defaultBudgetMB
    let program = problem.source
    let entries = program.data.reduce(0) { total, entry in
      entry.values.reduce(total) { saturatingSum($0, $1.scalars.count) }
    }
    dataBytes = saturatingProduct(2, entries, Bytes.double)
    if program.isSingleLevel {
      // Nothing to differentiate through: first_order is the exact gradient of the outer loss.
      method = .firstOrder
      reason = "no inner problem: the gradient of the outer loss is exact"
      budgetBytes = Bytes.megabytes(mb)
      return
    }
    switch program.hypergradient?.spec {
    case .method(let m)?:
      method = m
      reason = nil
      budgetBytes = Bytes.megabytes(mb)
      return
    case .auto(let b)?: mb = b
    case nil: break
    }
    budgetBytes = Bytes.megabytes(mb)
    let pick = MethodEstimates.choose(
      ProblemSizes(problem), budgetBytes: max(0, budgetBytes - dataBytes))
    method = pick.method
    reason = "auto chooses \(pick.method.description): \(pick.reason)"
  }

  /// The run stops before starting when the method's estimate and the
  /// data together exceed the budget.
  public func budgetFault(_ e: MethodEstimate, at range: SourceRange?) -> SolverFault? {
    let total = saturatingSum(e.memoryBytes, dataBytes)
    guard total > budgetBytes else { return nil }
    if dataBytes > budgetBytes {
      return SolverFault(
        .overBudget,
        "the data take \(formatBytes(dataBytes)) (the program's and the plans' shared copy), over the \(formatBytes(budgetBytes)) budget; "
          + "use smaller data or raise --budget-mb",
        origin: range)
    }
    return SolverFault(
      .overBudget,
      "\(method.description) needs an estimated \(formatBytes(e.memoryBytes)) (\(e.memory)) beside \(formatBytes(dataBytes)) of data, over the \(formatBytes(budgetBytes)) budget; "
        + "use unroll(reverse, checkpoints: k), truncated(K) or an implicit method, or raise --budget-mb",
      origin: range)
  }
}
