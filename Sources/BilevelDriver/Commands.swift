import BilevelCore
import BilevelFrontEnd
import BilevelSolvers

/// `bilevelc FILE`, `check`, `explain` and `--emit`.
struct Commands {
  let environment: Environment
  let options: CommandLineOptions

  init(environment: Environment, options: CommandLineOptions) {
    self.environment = environment
    self.options = options
  }

  func out(_ s: String) { environment.standardOutput(s) }

  func execute() -> Int32 {
    let path = options.file!
    // A bad output path costs nothing: refused before reading the program.
    if let refusal = outputRefusal(nil, dataFiles: []) {
      environment.standardError(
        "bilevelc: error: \(DiagnosticRenderer.escapingControls("\(refusal)"))\n")
      return 2
    }
    let dataPaths = DataPaths(
      workingDirectory: environment.currentDirectory, root: options.dataRoot)
    let compileOptions = options.compileOptions(environment, dataPaths: dataPaths)
    if options.action == .emit(.ast) {
      let c = Compilation.compile(
        path, environment: environment, options: compileOptions, overrides: options.overrides,
        parseOnly: true)
      c.report(environment)
      if c.unreadable { return 2 }
      guard let source = c.source, !c.diagnostics.contains(where: { $0.severity == .error }) else {
        return 1
      }
      out(ASTPrinter.print(source))
      return 0
    }
    var c = Compilation.compile(
      path, environment: environment, options: compileOptions, overrides: options.overrides)
    c.report(environment)
    if c.unreadable { return 2 }
    guard !c.failed, let raw = c.elaborated, let program = c.program else { return 1 }
    if let refusal = outputRefusal(program, dataFiles: dataPaths.filesRead) {
      environment.standardError(
        "bilevelc: error: \(DiagnosticRenderer.escapingControls("\(refusal)"))\n")
      return 2
    }
    if options.timings { environment.standardError(Compilation.formatTimings(c.timings)) }
    switch options.action {
    case .emit(.graph):
      out(
        program.dump(
          title: path, nodesBefore: raw.graph.reachable(from: raw.roots).count, fired: c.fired))
      return 0
    case .emit(.plan):
      let derivatives = c.timed("differentiate") { SolverProducts(program) }
      let p = derivatives.program
      var roots: [NodeID] = []
      var names: [String] = []
      for (name, root) in losses(p) {
        roots.append(root)
        names.append(name)
      }
      for product in derivatives.products {
        roots += product.roots
        names += product.roots.indices.map {
          product.roots.count > 1 ? "\(product.name) [\($0 + 1)]" : product.name
        }
      }
      let plan = c.timed("plan") {
        PlanBuilder.build(p, roots: roots, task: p.tasks == nil ? nil : 0)
      }
      out(plan.dump(title: path, outputNames: names, leafName: p.leafName))
      if options.timings { environment.standardError(Compilation.formatTimings(c.timings)) }
      return 0
    case .emit(.grad):
      let derivatives = c.timed("differentiate") { SolverProducts(program) }
      let method =
        program.hypergradient.map { program.settingText($0, { "\($0)" }) }
        ?? MethodKind.auto.rawValue
      out(derivatives.dump(title: path, method: method))
      if options.timings { environment.standardError(Compilation.formatTimings(c.timings)) }
      return 0
    case .emit(.jax):
      return emitJAX(program, title: path)
    case .explain:
      out(Explanation.text(program, title: path, budgetMB: options.budgetMB))
      return 0
    case .check:
      return check(program, title: path)
    case .grad:
      return gradient(program, title: path)
    default:
      return solve(program, title: path)
    }
  }

  /// `check`: the losses must evaluate to finite numbers at the initial point;
  /// where one does not, the first non-finite node is reported at its source.
  /// Then the plan against the reference evaluator, and every applicable
  /// hypergradient method against central differences and each other.
  func check(_ program: Program, title: String) -> Int32 {
    let evaluation = ProgramEvaluation(initialPointOf: program)
    var status: Int32 = 0
    for (name, root) in losses(program) {
      let perTask = evaluation.isPerTask(root)
      for task in perTask ? Array(0..<evaluation.taskCount) : [-1] {
        let t: Int? = task < 0 ? nil : task
        guard let bad = evaluation.firstNonFinite(root, task: t) else { continue }
        let value = evaluation.evaluate(bad, task: t).scalars.first { !$0.isFinite }!
        let where_ = t.map { " for task \($0 + 1)" } ?? ""
        let printed = program.expressionPrinter().render(bad, maximumLength: 200)
        environment.standardError(
          DiagnosticRenderer.render([
            .error(
              Message(
                "the \(name) is not finite at the initial point\(where_): \(printed) gives \(formatValue(value))"
              ),
              at: program.graph.origin(bad))
          ]))
        status = 1
        break
      }
    }
    if status == 0 {
      out(
        "\(title): ok — \(program.variables.count) variables, \(program.graph.reachable(from: program.roots).count) nodes; the losses are finite at the initial point\n"
      )
      let agreement = planAgreement(program)
      let bound = ErrorFigure.planAgreement.exponent(agreement.difference)
      out(
        "  plan: \(agreement.instructions) instructions compute the losses and \(agreement.products) derivative products; "
          + "they agree with the reference evaluator \(bound == ErrorFigure.planAgreement.floorExponent ? "" : "only ")to within \(ErrorFigure.power(bound))\n"
      )
      if agreement.difference > 1e-9 {
        environment.standardError(
          "bilevelc: internal error: the plan disagrees with the reference evaluator\n")
        status = 1
      }
      if checkHypergradients(program) != 0 { status = 1 }
    }
    return status
  }

  /// The losses and every derivative product through the plan, against the
  /// reference evaluator, at the initial point with seeded directions.
  func planAgreement(_ program: Program) -> (instructions: Int, products: Int, difference: Double) {
    let derivatives = SolverProducts(program)
    let p = derivatives.program
    let roots = losses(p).map(\.1) + derivatives.products.flatMap(\.roots)
    let leaves = derivatives.leavesAtInitialPoint(seed: 1000)
    var difference = 0.0
    var instructions = 0
    for task in p.tasks.map({ Array(0..<$0.count) }) ?? [-1] {
      let t: Int? = task < 0 ? nil : task
      let plan = PlanBuilder.build(p, roots: roots, task: t)
      instructions = max(instructions, plan.instructions.count)
      let got = plan.evaluate(leaves)
      let expected = ReferenceEvaluator.evaluate(
        p.graph, roots: roots, leaves: leaves, taskCount: p.tasks?.count ?? 1, task: t)
      for (g, e) in zip(got, expected) {
        for (x, y) in zip(g.scalars, e.scalars) where x != y {
          difference = max(difference, abs(x - y) / max(1, abs(x), abs(y)))
        }
      }
    }
    return (instructions, derivatives.products.count, difference)
  }

  func losses(_ p: Program) -> [(String, NodeID)] {
    var r: [(String, NodeID)] = []
    if let l = p.innerLoss { r.append(("inner loss", l)) }
    if let f = p.innerFixpoint { r.append(("fixpoint map", f.map)) }
    if let l = p.outerLoss { r.append(("outer loss", l)) }
    return r
  }
}
