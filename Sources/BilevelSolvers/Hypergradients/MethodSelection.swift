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
  /// What the plans compute once from data alone and keep (XᵀX, Xᵀy), and its cost.
  public let hoisted: HoistedConstants
  /// Data and hoisted values: what the run holds whatever the method.
  public var fixedBytes: Int { saturatingSum(dataBytes, hoisted.bytes) }

  public static let defaultBudgetMB = 1024.0

  public init(_ problem: BilevelProblem, budgetMB: Double? = nil) {
    var mb = budgetMB ?? MethodSelection.defaultBudgetMB
    let program = problem.source
    let entries = program.data.reduce(0) { total, entry in
      entry.values.reduce(total) { saturatingSum($0, $1.scalars.count) }
    }
    dataBytes = saturatingProduct(2, entries, Bytes.double)
    hoisted = problem.hoistedConstants
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
      ProblemSizes(problem),
      budgetBytes: max(0, budgetBytes - saturatingSum(dataBytes, hoisted.bytes)))
    method = pick.method
    reason = "auto chooses \(pick.method.description): \(pick.reason)"
  }

  /// The run stops before starting when the method's estimate, the data
  /// and the values hoisted from them together exceed the budget.
  public func budgetFault(_ e: MethodEstimate, at range: SourceRange?) -> SolverFault? {
    let total = saturatingSum(e.memoryBytes, fixedBytes)
    guard total > budgetBytes else { return nil }
    if fixedBytes > budgetBytes {
      return SolverFault(
        .overBudget,
        "the data take \(formatBytes(dataBytes)) (the program's and the plans' shared copy)\(hoisted.entries > 0 ? " and the values computed once from them \(formatBytes(hoisted.bytes))" : ""), over the \(formatBytes(budgetBytes)) budget; "
          + "use smaller data or raise --budget-mb",
        origin: range)
    }
    return SolverFault(
      .overBudget,
      "\(method.description) needs an estimated \(formatBytes(e.memoryBytes)) (\(e.memory)) beside \(formatBytes(dataBytes)) of data\(hoistedText), over the \(formatBytes(budgetBytes)) budget; "
        + "use unroll(reverse, checkpoints: k), truncated(K) or an implicit method, or raise --budget-mb",
      origin: range)
  }

  /// The hoisted values, as the messages say them ("" when there are none).
  public var hoistedText: String {
    hoisted.entries > 0
      ? " and \(formatBytes(hoisted.bytes)) of values computed once from data alone" : ""
  }
}
