import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation

/// `bilevelc FILE`: solve the bilevel program.
extension Commands {
  func solve(_ program: Program, title: String) -> Int32 {
    let clock = ContinuousClock()
    let started = clock.now
    let problem = BilevelProblem(program)
    let sizes = ProblemSizes(problem)
    let selection = MethodSelection(problem, budgetMB: options.budgetMB)
    out(Explanation.header(program, title: title))
    if let reason = selection.reason, !program.isSingleLevel { out("  \(reason)\n") }
    if !program.isSingleLevel {
      let e = MethodEstimates.estimate(sizes, of: selection.method)
      out("  estimate: \(selection.method.description): time \(e.time); memory \(e.memory)\n")
      if let fault = selection.budgetFault(e, at: program.hypergradient?.range) {
        environment.standardError(DiagnosticRenderer.render([.error(Message(fault.message), at: fault.origin)]))
        return 1
      }
    }
    let run = BilevelRun(problem: problem, method: selection.method)
    let terminal = environment.isTerminal
    var trace: [BilevelRun.Progress] = []
    let tracing = options.tracePath != nil
    let report = run.run { p in
      if tracing { trace.append(p) }
      guard terminal, p.step % max(1, p.steps / 10) == 0 || p.step == p.steps else { return }
      environment.standardError("outer step \(p.step)/\(p.steps): outer loss \(formatValue(p.outerLoss)), ‖hypergradient‖ \(formatValue(p.gradientNorm))\n")
    }
    if let fault = report.fault {
      environment.standardError(DiagnosticRenderer.render([.error(Message(fault.message), at: fault.origin)]))
    }
    out(summary(problem, report, method: selection.method))
    let elapsed = clock.now - started
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    let peak = Commands.peakResidentBytes()
    out("  wall time: \(formatValue((seconds * 1000).rounded() / 1000)) s, peak memory: \(formatBytes(peak))\n")
    var written = true
    if let path = options.tracePath { written = write(RunRecords.trace(trace, problem), to: path) && written }
    if let path = options.jsonPath {
      let json = RunRecords.json(problem, report, method: selection.method, title: title, seconds: seconds, peakBytes: peak)
      written = write(json, to: path) && written
    }
    return report.fault == nil && written ? 0 : 1
  }

  func summary(_ problem: BilevelProblem, _ report: BilevelRun.Report, method: HypergradientMethod) -> String {
    var out = report.fault == nil
      ? "solved: \(report.stepsDone) outer step\(report.stepsDone == 1 ? "" : "s") (\(problem.source.outerSolver?.name ?? "no outer solver")), \(problem.source.isSingleLevel ? "the gradient of the outer loss" : "hypergradient by " + method.description)\n"
      : "stopped at outer step \(report.faultStep ?? 0); the last good point:\n"
    if let l0 = report.initialLoss, let f = report.final {
      out += "  outer loss: \(formatValue(l0)) → \(formatValue(f.outerLoss))\n"
    }
    for (v, offset) in problem.outerBlocks {
      let values = Array(report.phi[offset..<(offset + v.shape.count)])
      out += "  \(v.name) = \(ValueFormatting.summary(Tensor(shape: v.shape, scalars: values)))\n"
    }
    if let f = report.final {
      out += "  \(problem.source.isSingleLevel ? "gradient" : "hypergradient") norm: \(formatValue(f.gradientNorm))\n"
      let what = problem.hasFixpoint ? "‖E(z) − z‖" : "‖∇θ L_in‖"
      let how = method == .closedForm ? "solved in closed form" : "after \(f.innerSteps) inner step\(f.innerSteps == 1 ? "" : "s")"
      if !problem.source.isSingleLevel { out += "  inner residual \(what) \(ErrorFigure.rounding.text(f.innerResidual)) \(how)\n" }
      if let s = f.linearSolve {
        let dense = s.method == "Cholesky" || s.method == "LU"
        let iterations = dense ? "dense" : "\(s.iterations) iteration\(s.iterations == 1 ? "" : "s")"
        out += "  linear solve (\(s.method)): \(iterations), residual \(ErrorFigure.rounding.text(s.residual)) (relative \(ErrorFigure.rounding.text(s.relativeResidual)))\n"
        if let c = s.nonPositiveCurvature {
          out += "  warning: CG met non-positive curvature pᵀHp = \(formatValue(c.curvature)) at iteration \(c.iteration): the inner Hessian is not positive definite there\n"
        }
      }
    }
    return out
  }

  /// Writes a result file (relative to the working directory); a failure is reported, not fatal to the run.
  func write(_ text: String, to path: String) -> Bool {
    do {
      try text.write(toFile: environment.resolve(path), atomically: true, encoding: .utf8)
      return true
    } catch {
      environment.standardError("bilevelc: error: cannot write \(path): \(error.localizedDescription)\n")
      return false
    }
  }

  /// The process's peak resident set (Linux reports ru_maxrss in KiB).
  static func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
  }
}

