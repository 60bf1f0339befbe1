import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation

/// A run's results as files: `--json` (the summary, with every outer
/// variable in full) and `--trace` (one CSV row per outer step). Numbers are
/// written with round-trip precision; non-finite ones as JSON null / CSV nan.
enum RunRecords {
  static func number(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }

  static func string(_ s: String) -> String {
    var out = "\""
    for c in s.unicodeScalars {
      switch c {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      default:
        if c.value < 0x20 { out += String(format: "\\u%04x", c.value) } else { out.unicodeScalars.append(c) }
      }
    }
    return out + "\""
  }

  static func array(_ xs: [Double]) -> String { "[" + xs.map(number).joined(separator: ", ") + "]" }

  static func json(_ problem: BilevelProblem, _ report: BilevelRun.Report, method: HypergradientMethod, title: String,
                   seconds: Double, peakBytes: Int) -> String {
    let p = problem.source
    var fields: [(String, String)] = [
      ("program", string(title)),
      ("method", p.isSingleLevel ? "null" : string(method.description)),
      ("outer_solver", string(p.outerSolver?.name ?? "none")),
      ("outer_steps", "\(report.stepsDone)"),
      ("initial_outer_loss", report.initialLoss.map(number) ?? "null"),
      ("final_outer_loss", report.final.map { number($0.outerLoss) } ?? "null"),
    ]
    var variables: [String] = []
    for (v, offset) in problem.outerBlocks {
      let values = Array(report.phi[offset..<(offset + v.shape.count)])
      variables.append("    \(string(v.name)): {\"shape\": \(string(v.shape.description)), \"values\": \(array(values))}")
    }
    fields.append(("outer_variables", "{\n" + variables.joined(separator: ",\n") + "\n  }"))
    if let f = report.final {
      fields.append(("hypergradient", array(f.gradient)))
      fields.append(("hypergradient_norm", number(f.gradientNorm)))
      fields.append(("inner_residual", p.isSingleLevel ? "null" : number(f.innerResidual)))
      fields.append(("inner_steps", "\(f.innerSteps)"))
      if let s = f.linearSolve {
        let curvature = s.nonPositiveCurvature.map { "{\"iteration\": \($0.iteration), \"curvature\": \(number($0.curvature))}" } ?? "null"
        fields.append(("linear_solve", "{\"method\": \(string(s.method)), \"iterations\": \(s.iterations), \"residual\": \(number(s.residual)), "
                       + "\"relative_residual\": \(number(s.relativeResidual)), \"non_positive_curvature\": \(curvature)}"))
      }
    }
    if let fault = report.fault {
      let place = fault.origin.map { r -> String in
        let (line, column) = r.file.lineAndColumn(of: r.start)
        return ", \"line\": \(line), \"column\": \(column)"
      } ?? ""
      fields.append(("fault", "{\"message\": \(string(fault.message)), \"outer_step\": \(report.faultStep ?? 0)\(place)}"))
    } else {
      fields.append(("fault", "null"))
    }
    fields.append(("wall_time_seconds", number(seconds)))
    fields.append(("peak_memory_bytes", "\(peakBytes)"))
    return "{\n" + fields.map { "  \(string($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n}\n"
  }

  /// step, outer_loss, hypergradient_norm, inner_residual, then φ entry by entry.
  static func trace(_ steps: [BilevelRun.Progress], _ problem: BilevelProblem) -> String {
    var header = ["step", "outer_loss", "hypergradient_norm", "inner_residual"]
    for (v, _) in problem.outerBlocks {
      header += v.shape.count == 1 ? [v.name] : (1...v.shape.count).map { "\(v.name)_\($0)" }
    }
    var out = header.joined(separator: ",") + "\n"
    func cell(_ x: Double) -> String { x.isFinite ? "\(x)" : "nan" }
    for s in steps {
      out += ([String(s.step), cell(s.outerLoss), cell(s.gradientNorm), cell(s.innerResidual)] + s.phi.map(cell)).joined(separator: ",") + "\n"
    }
    return out
  }
}
