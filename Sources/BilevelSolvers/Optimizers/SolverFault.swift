import BilevelCore
import BilevelFrontEnd
import Foundation

/// Numerical trouble that stops a run: where (which solver, step and task),
/// what (non-finite value, divergence, failed line search), and the source
/// expression the first bad value came from when a plan could locate it.
public struct SolverFault: Error, Sendable {
  /// What went wrong, for callers that react to it (check treats a singular
  /// system as "does not apply here"); the message is for people.
  public enum Kind: Sendable, Equatable {
    /// A value became NaN or infinite.
    case nonFinite
    /// The inner loss grew by orders of magnitude.
    case diverged
    /// Newton's line search found no decrease.
    case lineSearchFailed
    /// The fixed-point residual grew: the map is not a contraction there.
    case notAContraction
    /// The adjoint or inner system is singular.
    case singularSystem
    /// The method's memory estimate exceeds the budget.
    case overBudget
    /// The inner Hessian at the solution is not positive definite: a
    /// maximiser or saddle, not the minimum the method differentiates.
    case notAMinimum
    /// A setting written as an expression of outer variables left its range.
    case settingOutOfRange
    /// An adaptive solver needed more than its max_steps accepted steps.
    case stepLimit

    /// As `--json` writes it.
    public var name: String {
      switch self {
      case .nonFinite: return "non_finite"
      case .diverged: return "diverged"
      case .lineSearchFailed: return "line_search_failed"
      case .notAContraction: return "not_a_contraction"
      case .singularSystem: return "singular_system"
      case .overBudget: return "over_budget"
      case .notAMinimum: return "not_a_minimum"
      case .settingOutOfRange: return "setting_out_of_range"
      case .stepLimit: return "step_limit"
      }
    }
  }

  public let kind: Kind
  public let message: String
  /// What went wrong without where (the method or step the message names
  /// first), for a reader that already shows where.
  public let reason: String
  public let origin: SourceRange?
  /// The expression as written, when the fault was traced to one.
  public let expression: String?

  public init(
    _ kind: Kind, _ message: String, origin: SourceRange? = nil, expression: String? = nil
  ) {
    self.init(kind, at: nil, message, origin: origin, expression: expression)
  }

  /// A fault whose message starts with where it happened: "where: reason".
  public init(
    _ kind: Kind, at place: String?, _ reason: String, origin: SourceRange? = nil,
    expression: String? = nil
  ) {
    self.kind = kind
    self.reason = reason
    self.message = place.map { "\($0): \(reason)" } ?? reason
    self.origin = origin
    self.expression = expression
  }

  /// Traces a non-finite result of `function` back to the instruction that
  /// produced it (the arena still holds the arguments of the failed run),
  /// and names what its caret points at: data that hold a non-finite value,
  /// the derivative of an expression, or the expression itself.
  static func nonFinite<S>(
    _ what: String, in function: Compiled<S>, problem: BilevelProblem
  ) -> SolverFault {
    guard let fault = function.locateFault() else { return SolverFault(.nonFinite, what) }
    let program = problem.program
    let value = formatValue(fault.value)
    if let node = fault.sourceNode, let bad = program.nonFiniteData(feeding: node) {
      return SolverFault(
        .nonFinite, "\(what): \(bad.description)", origin: bad.range, expression: bad.name)
    }
    let text = program.faultText(node: fault.sourceNode, origin: fault.origin)
    return SolverFault(
      .nonFinite, "\(what): \(text) gives \(value)", origin: fault.origin, expression: text)
  }
}

extension Program {
  /// A data entry read by `node` that holds NaN or an infinity, with where.
  func nonFiniteData(
    feeding node: NodeID
  ) -> (name: String, description: String, range: SourceRange)? {
    for input in graph[node].inputs + [node] {
      guard case .data(let i) = graph[input].op else { continue }
      let entry = data[i]
      for (t, tensor) in entry.values.enumerated() {
        guard let e = tensor.scalars.firstIndex(where: { !$0.isFinite }) else { continue }
        let shape = tensor.shape
        let place =
          shape.isMatrix
          ? "row \(e / shape.columns + 1), column \(e % shape.columns + 1)"
          : shape.isVector ? "entry \(e + 1)" : "its value"
        let task = entry.perTask ? " (task \(t + 1))" : ""
        return (
          entry.name,
          "data '\(entry.name)'\(task) = \(entry.definition) holds "
            + "\(formatValue(tensor.scalars[e])) at \(place)",
          entry.range
        )
      }
    }
    return nil
  }

  /// The expression under a fault's caret as written, or its derivative.
  func faultText(node: NodeID?, origin: SourceRange?) -> String {
    guard let origin else {
      return node.map { expressionPrinter().render($0, maximumLength: 120) } ?? "a value"
    }
    var text = origin.text.split(whereSeparator: \.isNewline).map {
      $0.trimmingCharacters(in: .whitespaces)
    }.joined(separator: " ")
    if text.count > 120 { text = String(text.prefix(117)) + "..." }
    guard let node, let d = graph.derivation(node) else { return text }
    let order = d.order == 1 ? "" : d.order == 2 ? "second " : "order-\(d.order) "
    let wrt = d.wrt.map { leafName($0) }.joined(separator: " and ")
    return "the \(order)derivative of \(text) with respect to \(wrt)"
  }
}

/// Whether every entry is finite.
@inline(__always)
func allFinite(_ x: [Double]) -> Bool {
  x.withUnsafeBufferPointer { b in
    var ok = true
    for v in b where !v.isFinite { ok = false }
    return ok
  }
}

public func norm(_ x: [Double]) -> Double {
  var s = 0.0
  for v in x { s += v * v }
  return s.squareRoot()
}

func dot(_ a: [Double], _ b: [Double]) -> Double {
  var s = 0.0
  for k in a.indices { s += a[k] * b[k] }
  return s
}

extension BilevelProblem {
  /// "task 3, " in a multi-task program; nothing otherwise.
  func taskLabel(_ t: Int) -> String { tasks > 1 ? "task \(t + 1), " : "" }
}
