import BilevelCore
import BilevelFrontEnd

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
  /// produced it (the arena still holds the arguments of the failed run).
  static func nonFinite<S>(
    _ what: String, in function: Compiled<S>, problem: BilevelProblem
  ) -> SolverFault {
    guard let fault = function.locateFault() else { return SolverFault(.nonFinite, what) }
    let text = problem.program.expressionPrinter().render(fault.node, maximumLength: 120)
    return SolverFault(
      .nonFinite, "\(what): \(text) gives \(formatValue(fault.value))", origin: fault.origin,
      expression: text)
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
