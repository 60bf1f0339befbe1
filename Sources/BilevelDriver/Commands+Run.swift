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
    var resume: BilevelRun.ResumePoint? = nil
    if let path = options.resumePath {
      guard let bytes = FileContents.read(environment.resolve(path)) else {
        environment.standardError(
          "bilevelc: error: cannot read '\(DiagnosticRenderer.escapingControls(path))': no such file or not readable\n"
        )
        return 2
      }
      do {
        resume = try ResumeFile.load(bytes, path: path, problem: problem)
      } catch {
        environment.standardError(
          "bilevelc: error: \(DiagnosticRenderer.escapingControls(error.message))\n")
        return 1
      }
    }
    out(Explanation.header(program, title: title))
    if let reason = selection.reason, !program.isSingleLevel { out("  \(reason)\n") }
    if !program.isSingleLevel {
      let e = MethodEstimates.estimate(sizes, of: selection.method)
      var data = selection.dataBytes > 0 ? "; data 2 × \(formatBytes(selection.dataBytes / 2))" : ""
      if selection.hoisted.entries > 0 {
        data += "; computed once from data \(formatBytes(selection.hoisted.bytes))"
      }
      out(
        "  estimate: \(selection.method.description): time \(e.time); memory \(e.memory)\(data)\n")
      if let fault = selection.budgetFault(e, at: program.hypergradient?.range) {
        environment.standardError(
          DiagnosticRenderer.render([.error(Message(fault.message), at: fault.origin)]))
        return 1
      }
    }
    let outerSteps = program.outerSolver?.spec.steps ?? 0
    let time = TimeBudget(
      problem, method: selection.method, outerSteps: max(0, outerSteps - (resume?.step ?? 0)),
      hoistedFlops: selection.hoisted.flops)
    if let fault = time.fault(
      budget: options.budgetSeconds ?? TimeBudget.defaultSeconds, at: program.outerSolver?.range)
    {
      environment.standardError(
        DiagnosticRenderer.render([.error(Message(fault.message), at: fault.origin)]))
      return 1
    }
    if let r = resume { out("  resumed from outer step \(r.step) of \(options.resumePath!)\n") }
    let run = BilevelRun(problem: problem, method: selection.method)
    var progress = ProgressPrinter(
      mode: options.progress, isTerminal: environment.isTerminal, write: environment.standardError)
    let reportNames = program.reports.map(\.name)
    // The trace streams a row per step; rows are kept only for the JSON and the plot.
    let keepsRows =
      options.jsonPath != nil || options.plotPath != nil || options.saveDirectory != nil
    var rows: [TraceRow] = []
    var first: TraceRow? = nil
    var last: TraceRow? = nil
    var written = true
    var traceFile: OutputFile? = nil
    if let path = options.tracePath {
      switch OutputFile.open(target("--trace", path)) {
      case .success(let f):
        traceFile = f
        if let e = f.append(
          RunRecords.traceHeader(problem, reportNames: reportNames, values: options.traceValues))
        {
          environment.standardError(
            "bilevelc: error: \(DiagnosticRenderer.escapingControls("\(e)"))\n")
          f.discard()
          traceFile = nil
          written = false
        }
      case .failure(let e):
        environment.standardError(
          "bilevelc: error: \(DiagnosticRenderer.escapingControls("\(e.message)"))\n")
        written = false
      }
    }
    if environment.handlesSignals { Interrupts.install() }
    var stoppedBy: Int32 = 0
    let reports = problem.reportFunction()
    let report = run.run(from: resume) { p in
      var values: [Double] = []
      if let f = reports {
        f.function.loadBatches(outer: p.step, inner: problem.heldInnerStep)
        f.load(.allTheta, p.theta.flatMap { $0 })
        f.load(.phi, p.phi)
        f.run()
        values = f.result(.values)
      }
      let row = TraceRow(
        step: p.step, outerLoss: p.outerLoss, gradientNorm: p.gradientNorm,
        innerResidual: p.innerResidual, phi: p.phi, reports: values)
      if first == nil { first = row }
      last = row
      if keepsRows { rows.append(row) }
      if let f = traceFile,
        let e = f.append(RunRecords.traceLine(row, problem, values: options.traceValues))
      {
        environment.standardError(
          "bilevelc: error: \(DiagnosticRenderer.escapingControls("\(e)"))\n")
        f.discard()
        traceFile = nil
        written = false
      }
      progress.show(p)
      if environment.handlesSignals && Interrupts.signal != 0 && p.step < p.steps {
        stoppedBy = Interrupts.signal
        return false
      }
      return true
    }
    if stoppedBy != 0 {
      environment.standardError(
        "bilevelc: \(Interrupts.name(stoppedBy)): stopped after outer step \(report.stepsDone); writing the results of that step\n"
      )
    }
    if let fault = report.fault {
      environment.standardError(
        DiagnosticRenderer.render([.error(Message(fault.message), at: fault.origin)]))
    }
    out(summary(problem, report, method: selection.method))
    if options.timings { environment.standardError(Self.solveTimings(report)) }
    if let first, let last {
      for (i, r) in program.reports.enumerated() {
        out(
          "  report \(r.name): \(formatValue(first.reports[i])) → \(formatValue(last.reports[i]))\n"
        )
      }
    }
    let elapsed = clock.now - started
    let seconds =
      Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    let peak = PeakMemory.bytes()
    out(
      "  wall time: \(formatValue((seconds * 1000).rounded() / 1000)) s, peak memory: \(formatBytes(peak))\n"
    )
    var inputs = RunRecords.RunInputs(
      title: title, method: selection.method, trace: rows, reportNames: reportNames,
      traceValues: options.traceValues, seconds: seconds, peakBytes: peak)
    inputs.interrupted = stoppedBy != 0
    if let f = traceFile, let e = f.commit() {
      environment.standardError("bilevelc: error: \(DiagnosticRenderer.escapingControls("\(e)"))\n")
      written = false
    }
    if let path = options.plotPath {
      let svg = RunPlot.svg(
        title: title, trace: rows, reportNames: reportNames, singleLevel: program.isSingleLevel)
      written = write(svg, to: path, option: "--plot") && written
    }
    let json = RunRecords.json(problem, report, inputs)
    if let path = options.jsonPath { written = write(json, to: path, option: "--json") && written }
    if let directory = options.saveDirectory {
      written = save(problem, report, json: json, to: directory) && written
    }
    if environment.handlesSignals && Interrupts.signal != 0 { return 128 + Interrupts.signal }
    return report.fault == nil && written ? 0 : 1
  }

  /// `--save DIR`: every outer variable and the solved inner variables as
  /// .npy (inner ones with a leading task axis in a program with tasks),
  /// and the JSON result as result.json.
  func save(
    _ problem: BilevelProblem, _ report: BilevelRun.Report, json: String, to directory: String
  ) -> Bool {
    let full = environment.resolve(directory)
    do {
      try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
    } catch {
      environment.standardError(
        "bilevelc: error: cannot create \(DiagnosticRenderer.escapingControls(directory)): \(error.localizedDescription)\n"
      )
      return false
    }
    var arrays: [(String, [Int], [Double])] = problem.outerBlocks.map { v, o in
      (v.name, RunRecords.dims(v.shape), Array(report.phi[o..<(o + v.shape.count)]))
    }
    if let f = report.final {
      arrays += RunRecords.innerValues(problem, f.theta).map { ($0.name, $0.shape, $0.values) }
    }
    var ok = true
    for (name, shape, values) in arrays {
      ok =
        writeBytes(
          NPYWriter.bytes(shape: shape, values: values), to: directory + "/" + name + ".npy",
          option: "--save") && ok
    }
    ok = write(json, to: directory + "/result.json", option: "--save") && ok
    if ok {
      out(
        "  saved \(arrays.map { $0.0 + ".npy" }.joined(separator: ", ")) and result.json in \(directory)\n"
      )
    }
    return ok
  }

  func summary(
    _ problem: BilevelProblem, _ report: BilevelRun.Report, method: HypergradientMethod
  ) -> String {
    let done = report.stepsDone - report.firstStep
    let from = report.firstStep > 0 ? ", from step \(report.firstStep) to \(report.stepsDone)" : ""
    let warnings =
      report.final.map { ResultWarnings.warnings(problem, method: method, result: $0) } ?? []
    let converged =
      !(report.final.map { InnerSolver(problem).stoppedAboveTolerance($0.innerResidual) } ?? false)
    var out =
      report.fault == nil
      ? "\(converged ? "solved" : "not converged (the inner solve stopped above its tolerance)"): \(done) outer step\(done == 1 ? "" : "s")\(from) (\(problem.source.outerSolver?.name ?? "no outer solver")), \(problem.source.isSingleLevel ? "the gradient of the outer loss" : "hypergradient by " + method.description)\n"
      : "stopped at outer step \(report.faultStep ?? 0); the last good point:\n"
    if report.converged, let tol = problem.source.outerControls.tolerance {
      out += "  stopped early: the hypergradient's norm reached tol = \(formatValue(tol))\n"
    }
    if let l0 = report.initialLoss, let f = report.final {
      out += "  outer loss: \(formatValue(l0)) → \(formatValue(f.outerLoss))\n"
    }
    for (v, offset) in problem.outerBlocks {
      let values = Array(report.phi[offset..<(offset + v.shape.count)])
      out += "  \(v.name) = \(ValueFormatting.summary(Tensor(shape: v.shape, scalars: values)))\n"
    }
    if let f = report.final {
      out +=
        "  \(problem.source.isSingleLevel ? "gradient" : "hypergradient") norm: \(formatValue(f.gradientNorm))\n"
      let what = problem.hasFixpoint ? "‖E(z) − z‖" : "‖∇θ L_in‖"
      let how =
        method == .closedForm
        ? "solved in closed form"
        : "after \(f.innerSteps) inner step\(f.innerSteps == 1 ? "" : "s")"
      if !problem.source.isSingleLevel {
        out += "  inner residual \(what) \(ErrorFigure.rounding.text(f.innerResidual)) \(how)\n"
      }
      if let fit = f.proxy { out += ProxyFitText.line(fit) }
      if let s = f.linearSolve {
        let dense = s.method == "Cholesky" || s.method == "LU"
        let iterations =
          dense ? "dense" : "\(s.iterations) iteration\(s.iterations == 1 ? "" : "s")"
        out +=
          "  linear solve (\(s.method)): \(iterations), residual \(ErrorFigure.rounding.text(s.residual)) (relative \(ErrorFigure.rounding.text(s.relativeResidual)))\n"
        if let c = s.nonPositiveCurvature {
          out +=
            "  warning: CG met non-positive curvature pᵀHp = \(formatValue(c.curvature)) at iteration \(c.iteration): the inner Hessian is not positive definite there\n"
        }
      }
    }
    for w in warnings { out += "  warning: \(w)\n" }
    return out
  }

  /// `--timings` for the run: sums over outer steps. The inner solve is a
  /// part of the hypergradient's time, shown when the method solves it as
  /// its own phase; the rest is the derivative itself.
  static func solveTimings(_ r: BilevelRun.Report) -> String {
    func ms(_ s: Double) -> String { "\(formatValue((s * 1e6).rounded() / 1e3)) ms" }
    let steps = max(0, r.stepsDone - r.firstStep + 1)
    var parts: [String] = []
    if let inner = r.innerSolveSeconds {
      parts += [
        "inner solve \(ms(inner))",
        "hypergradient \(ms(max(0, r.hypergradientSeconds - inner))) beyond it",
      ]
    } else {
      parts.append("hypergradient \(ms(r.hypergradientSeconds)) (inner steps included)")
    }
    parts.append("outer update \(ms(r.outerUpdateSeconds))")
    return "timings: solve, over \(steps) hypergradient evaluation\(steps == 1 ? "" : "s"): "
      + parts.joined(separator: ", ") + "\n"
  }
}

/// The process's own peak resident set. Linux keeps getrusage's ru_maxrss
/// across execve, so under `swift run` it would report the larger of the
/// launcher and this process; /proc/self/status's VmHWM belongs to this
/// address space alone.
enum PeakMemory {
  static func bytes() -> Int {
    if let status = FileContents.read("/proc/self/status") {
      for line in String(decoding: status, as: UTF8.self).split(separator: "\n")
      where line.hasPrefix("VmHWM:") {
        let kib = line.split(separator: " ").compactMap { Int($0) }.first
        if let kib { return kib * 1024 }
      }
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
  }
}
