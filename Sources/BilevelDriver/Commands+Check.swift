import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation

/// `bilevelc check FILE`, the hypergradient part: the table of every
/// applicable method against central differences and against each other.
/// Deterministic (no timings): it is part of the golden transcripts.
extension Commands {
  /// The verdict line: on stdout with the table, and on stderr, where a
  /// script that keeps only diagnostics still sees it.
  func printVerdict(_ line: String) {
    out(line)
    environment.standardError("check: " + line)
  }

  /// Prints the table; 1 when a method is out of tolerance.
  func checkHypergradients(_ program: Program) -> Int32 {
    guard program.outerLoss != nil, program.size(.outer) > 0,
      program.size(.inner) > 0 || program.isSingleLevel
    else { return 0 }
    let problem = BilevelProblem(program)
    let method = MethodSelection(problem, budgetMB: options.budgetMB).method
    let show =
      options.progress == .forced || options.progress == .automatic && environment.isTerminal
    let report = HypergradientCheck(
      problem: problem, programMethod: method, programMethodOnly: !options.checkAll
    ).run { i, n, name in
      if show { environment.standardError("check: \(i) of \(n): \(name)\n") }
    }
    out(Commands.checkTable(report, problem: problem))
    let failures = report.failures
    let taskFailures = report.taskFailures
    let checked = report.checked.count
    if failures.isEmpty && taskFailures.isEmpty {
      if !options.checkAll {
        let capped = report.rows.contains { $0.isProgramMethod && $0.capped != nil }
        let verdict =
          capped ? "is capped on purpose: its bias is above, not a failure" : "is within tolerance"
        printVerdict(
          "\(method.description) \(verdict)\(report.taskChecks.isEmpty ? "" : ", in aggregate and per task") (check --all checks every applicable method)\n"
        )
        return 0
      }
      printVerdict(
        "all \(checked) methods checked are within tolerance\(report.taskChecks.isEmpty ? "" : ", in aggregate and per task")\n"
      )
      return 0
    }
    // One line per reason: a failed inner solve fails every method alike.
    var reasons: [(String, [String])] = []
    for row in failures {
      if let i = reasons.firstIndex(where: { $0.0 == row.failure! }) {
        reasons[i].1.append(row.label)
      } else {
        reasons.append((row.failure!, [row.label]))
      }
    }
    let causes = Commands.likelyCauses(program, report)
    for (why, labels) in reasons {
      out("  FAIL \(labels.joined(separator: ", ")): \(why)\n")
      if let row = failures.first(where: { $0.failure == why }), let cause = causes(row) {
        out("    likely cause: \(cause)\n")
      }
    }
    for check in taskFailures { out("  FAIL \(check.label) per task: \(check.failure!)\n") }
    if !failures.isEmpty {
      printVerdict(
        "\(failures.count) of \(checked) methods checked failed: \(failures.map(\.label).joined(separator: ", "))\n"
      )
    }
    if !taskFailures.isEmpty {
      printVerdict(
        "\(taskFailures.count) of \(report.taskChecks.count) methods checked per task failed: \(taskFailures.map(\.label).joined(separator: ", "))\n"
      )
    }
    return 1
  }

  /// Why a row most likely failed: a kink the central differences straddle,
  /// an inner problem not solved, or differences that rounding spoils
  /// while the method agrees with its reference.
  static func likelyCauses(_ program: Program, _ report: CheckReport) -> (CheckRow) -> String? {
    let all = Set(program.variables(.inner) + program.variables(.outer))
    let roots = [program.innerLoss, program.outerLoss].compactMap { $0 }
    let kinks = Array(
      Set(roots.flatMap { MethodDiagnostics.kinks(program, in: $0, of: all).map(\.name) })
    ).sorted()
    return { row in
      if row.failure?.contains("solved tightly") == true
        || row.failure?.contains("tight inner solve") == true
      {
        return "an unconverged inner problem: the implicit methods differentiate its solution"
      }
      if !kinks.isEmpty {
        return
          "a kink: the losses apply \(kinks.joined(separator: ", ")) to the variables, and central differences (h = \(stepText(HypergradientCheck.step))) straddle it where the derivative jumps"
      }
      if case .error(let e) = row.reference, e <= HypergradientCheck.exactTolerance {
        return
          "rounding of the differences: the method agrees with its reference to \(ErrorFigure.rounding.text(e)), so the central differences are what is off"
      }
      if case .bitIdentical = row.reference {
        return "rounding of the differences: the method is bit-identical to its reference"
      }
      if let r = report.tightResidual, r > ResultWarnings.implicitResidualLimit {
        return
          "an unconverged inner problem (‖∇θ L_in‖ \(ErrorFigure.rounding.text(r)) after the tight solve)"
      }
      return nil
    }
  }

  /// 1e-3 rather than 0.001.
  static func stepText(_ h: Double) -> String {
    let e = Int((RandomStream.log(h) / RandomStream.log(10)).rounded())
    let mantissa = h / pow(10, Double(e))
    return abs(mantissa - 1) < 1e-12 ? "1e\(e)" : formatValue(h)
  }

  static func checkTable(_ report: CheckReport, problem: BilevelProblem) -> String {
    let m = report.outerSize
    let directions =
      report.randomDirections
      ? "\(report.directionCount) seeded random unit directions"
      : "\(m) coordinate\(m == 1 ? "" : "s")"
    var text =
      "hypergradients at the initial point (m = \(m); directions: \(directions); "
      + "central differences, h = \(stepText(report.step)), Richardson):\n"
    var lines: [[String]] = [
      ["method", "", "map differentiated", "vs differences", "vs reference"]
    ]
    for row in report.rows {
      var reference: String
      switch row.reference {
      case .none: reference = "—"
      case .isReference: reference = "reference"
      case .bitIdentical: reference = "bit-identical"
      case .error(let e): reference = ErrorFigure.rounding.text(e)
      case .unavailable: reference = "unavailable"
      }
      if let name = row.referenceName, case .error = row.reference { reference += " vs \(name)" }
      if let r = row.linearResidual {
        reference += " (linear residual \(ErrorFigure.rounding.text(r)))"
      }
      var differences = row.differencesError.map(ErrorFigure.differences.text) ?? "—"
      if row.notApplicable != nil { differences = "not applicable" }
      if row.failure != nil {
        if row.differencesError == nil { differences = "failed" }
        reference += "   FAIL"
      }
      lines.append([
        row.label, row.isProgramMethod ? "*" : "", row.mapDescription, differences, reference,
      ])
    }
    let widths = (0..<4).map { c in lines.map { $0[c].count }.max()! }
    for line in lines {
      var s = "  "
      for c in 0..<4 {
        s +=
          line[c].padding(toLength: widths[c], withPad: " ", startingAt: 0) + (c == 0 ? " " : "   ")
      }
      s += line[4]
      while s.hasSuffix(" ") { s.removeLast() }
      text += s + "\n"
    }
    text += "  (* the program's method)\n"
    for row in report.rows {
      if let c = row.capped { text += "  capped on purpose: \(row.label): \(c)\n" }
    }
    if let r = report.tightResidual, report.tightProblem == nil {
      let what = problem.hasFixpoint ? "‖E(z) − z‖" : "‖∇θ L_in‖"
      text +=
        "  the implicit methods' inner problem, solved tightly: \(what) \(ErrorFigure.rounding.text(r))\n"
    }
    if let r = report.rows.first(where: \.isProgramMethod)?.differencesResolution,
      r > HypergradientCheck.exactTolerance
    {
      let h = formatValue(report.step)
      text +=
        r > 1
        ? "  note: the program's method's hypergradient is below the rounding of central differences here (h = \(h)): they can only bound it, each tolerance against them is widened to that\n"
        : "  note: central differences resolve the program's method only to \(ErrorFigure.differences.text(r)) here (rounding of a map that is large against its change over h = \(h)); each tolerance against them is widened to what they resolve\n"
    }
    for why in report.skipped { text += "  not checked: \(why)\n" }
    if report.outerIgnoresInnerHere {
      text +=
        "  note: ∂L_out/∂θ = 0 at the initial point, so every method reduces to ∂L_out/∂φ there; the inner path is not exercised\n"
    }
    // Reasons once each, with the methods they rule out.
    var reasons: [(String, [String])] = []
    for row in report.rows {
      guard let why = row.notApplicable else { continue }
      if let i = reasons.firstIndex(where: { $0.0 == why }) {
        reasons[i].1.append(row.label)
      } else {
        reasons.append((why, [row.label]))
      }
    }
    for (why, labels) in reasons {
      text += "  not applicable here: \(labels.joined(separator: ", ")): \(why)\n"
    }
    if !report.taskChecks.isEmpty { text += taskTable(report, tasks: problem.tasks) }
    return text
  }

  /// Programs with tasks: a row per task, a column per method checked per task.
  static func taskTable(_ report: CheckReport, tasks: Int) -> String {
    var text =
      "per task: task t's part of the hypergradient (∂L_out/∂φ + task t's path) vs central differences of\n"
      + "  F_t(φ) = the outer loss with task t's θ_t(φ) and every other task's θ held at φ₀:\n"
    var lines: [[String]] = [
      ["task"] + report.taskChecks.map { $0.label + ($0.isProgramMethod ? " *" : "") }
    ]
    for t in 0..<tasks {
      lines.append(
        ["\(t + 1)"]
          + report.taskChecks.map { check in
            guard t < check.errors.count else { return "failed" }
            return ErrorFigure.differences.text(check.errors[t])
              + (check.failedTasks.contains(t) ? " FAIL" : "")
          })
    }
    let widths = lines[0].indices.map { c in lines.map { $0[c].count }.max()! }
    for line in lines {
      var s = "  "
      for c in line.indices {
        s += line[c].padding(toLength: widths[c], withPad: " ", startingAt: 0) + "   "
      }
      while s.hasSuffix(" ") { s.removeLast() }
      text += s + "\n"
    }
    return text
  }
}
