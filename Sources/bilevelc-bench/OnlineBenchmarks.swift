import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation

/// The warm-started samples, run as their outer solver runs them: each outer
/// step one inner step from the carried state, the hypergradient, the outer
/// update and the carried state's hand-over. Per outer step, since that is
/// what an online scheme pays again and again.
func onlineSection() -> Section {
  var s = Section(
    "online (start: warm) samples: time per outer step of a whole run, 1 thread",
    header: [
      "sample", "method", "d", "m", "outer steps", "run ms", "ms / outer step", "outer loss",
    ])
  let names = [
    "darts_alternating_first_order", "darts_alternating_second_order", "digits_reweighting_online",
  ]
  for name in names {
    let path = "samples/\(name).blv"
    guard let bytes = FileManager.default.contents(atPath: path),
      let program = compileBilevel(path: path, bytes: [UInt8](bytes))
    else {
      s.add([name, "does not compile", "", "", "", "", "", ""])
      continue
    }
    let problem = BilevelProblem(program)
    problem.threads = 1
    let method = MethodSelection(problem).method
    let steps = program.outerSolver?.spec.steps ?? 0
    var report: BilevelRun.Report!
    // A first run builds the plans; the median of three more is the figure.
    let runs = (0..<4).map { _ in
      once { report = BilevelRun(problem: problem, method: method).run() }
    }
    let t = median(Array(runs.dropFirst()))
    if let fault = report.fault {
      s.add([name, method.description, "", "", "", "fault: \(fault.message)", "", ""])
      continue
    }
    s.add([
      name, method.description, "\(problem.innerSize)", "\(problem.outerSize)", "\(steps)", ms(t),
      ms(t / Double(max(steps, 1))), formatValue(report.final?.outerLoss ?? .nan),
    ])
  }
  s.note(
    "run = BilevelRun.run over the sample's outer steps (steps + 1 hypergradients), plans built by a first run; median of 3"
  )
  return s
}
