import BilevelCore
import BilevelFrontEnd
import BilevelSolvers

/// `bilevelc explain`: the problem's sizes, the chosen method and what every
/// method would cost on it (METHODS.md, survey §4.5).
enum Explanation {
  static func header(_ p: Program, title: String) -> String {
    var out = "program \(title)\n"
    if let t = p.tasks { out += "  tasks: \(t.index) in 1..\(t.count)\n" }
    for level in p.isSingleLevel ? [Level.outer] : [Level.outer, .inner] {
      let vars = p.variables(level).map { i -> String in
        let v = p.variables[i]
        return "\(v.name)\(v.perTask ? "[\(p.tasks!.index)]" : ""): \(v.shape)"
      }
      let symbol = level == .outer ? "m" : "d"
      out +=
        "  \(level.rawValue) variables (\(symbol) = \(p.size(level))\(level == .inner && p.tasks != nil ? " per task" : "")): \(vars.joined(separator: ", "))\n"
    }
    let ref: (NodeID) -> String = { p.expressionPrinter().render($0, maximumLength: 120) }
    if let s = p.innerSolver {
      let problem = p.innerFixpoint != nil ? "solve the inner fixpoint" : "minimise the inner loss"
      out += "  inner solver: \(p.settingText(s, ref)) — \(problem)\n"
    }
    if !p.ruleStates.isEmpty {
      let states = p.ruleStates.map {
        "\($0.name)\($0.perTask ? "[\(p.tasks!.index)]" : ""): \($0.shape)"
      }
      out +=
        "  rule state (unrolled with θ, updated in this order): \(states.joined(separator: ", "))\n"
    }
    out +=
      p.isSingleLevel
      ? "  no inner problem: the outer loss is minimised directly\n"
      : "  hypergradient: \(p.hypergradient.map { p.settingText($0, ref) } ?? MethodKind.auto.rawValue)\n"
    if let s = p.outerSolver { out += "  outer solver: \(p.settingText(s, ref))\n" }
    return out
  }

  /// Each minibatch stream: what it draws, what reads it, and which batch
  /// each kind of product sees (the unrolled steps replay theirs; the rest
  /// hold one).
  static func minibatches(_ p: Program) -> String {
    var out = ""
    for (k, b) in p.batches.enumerated() {
      let views = p.batchViews.filter { $0.source == .batch(k) }.map { p.inputs[$0.input].name }
      let draw = b.replace ? "with" : "without"
      out +=
        "  minibatch \(b.name): \(b.size) of \(b.population) rows \(draw) replacement, seed \(b.seed), "
      out += "read as \(views.isEmpty ? "nothing" : views.joined(separator: ", "))\n"
      if b.cadence == .innerStep {
        out +=
          "    a new batch each inner step and outer step; unrolled methods replay each step's batch backward; "
        out +=
          "the gradients, Hessian and mixed products at the solution (implicit methods), the outer loss and reports "
        out += "use the last inner step's batch (step \(p.heldInnerStep + 1))\n"
      } else {
        out +=
          "    one batch per outer step, used by every inner step and every product of that outer step "
        out += "(implicit methods' Hessian and mixed products included)\n"
      }
    }
    for (k, e) in p.episodes.enumerated() {
      let views = p.batchViews.filter {
        $0.source == .episode(k, query: false) || $0.source == .episode(k, query: true)
      }.map { p.inputs[$0.input].name }
      let pair =
        "\(e.name.support)\(e.perTask ? "[t]" : ""), \(e.name.query)\(e.perTask ? "[t]" : "")"
      out +=
        "  episodes \(pair): \(e.ways)-way \(e.shots)-shot tasks with \(e.queries) queries per class "
      out +=
        "from the \(e.classRows.count) classes of '\(p.data[e.labels].name)', relabelled 0..\(e.ways - 1), seed \(e.seed), "
      out += "read as \(views.isEmpty ? "labels only" : views.joined(separator: ", "))\n"
      if e.perTask {
        let m = p.tasks?.count ?? 1
        out +=
          "    each outer step draws \(m) distinct tasks of a pool of \(e.pool); nothing is stored per pool task, "
        out += "and the \(m) tasks' plans are filled with each step's rows\n"
      } else {
        out += "    one fixed task (pool task 0)\n"
      }
    }
    return out
  }

  static func text(_ p: Program, title: String, budgetMB: Double? = nil) -> String {
    var out = header(p, title: title)
    for f in p.csvFiles { out += "  data file: \(f.path), \(f.delimiter.rawValue), \(f.shape)\n" }
    out += minibatches(p)
    if p.isSingleLevel {
      return out
        + "single level: each outer step takes the exact gradient ∇φ L_out; there is no hypergradient method to choose\n"
        + planCosts(BilevelProblem(p))
    }
    let problem = BilevelProblem(p)
    let sizes = ProblemSizes(problem)
    let selection = MethodSelection(problem, budgetMB: budgetMB)
    out += "sizes: d = \(sizes.inner), m = \(sizes.outer), unrolled state = \(sizes.state) doubles"
    out +=
      sizes.steps.map { ", T = \($0) inner step\($0 == 1 ? "" : "s")" }
      ?? (sizes.innerSolver == nil ? ", no inner iterations" : ", inner steps until tolerance")
    out += sizes.tasks > 1 ? ", \(sizes.tasks) tasks\n" : "\n"
    if selection.fixedBytes > 0 {
      out += "held whatever the method: data 2 × \(formatBytes(selection.dataBytes / 2))"
      let h = selection.hoisted
      if h.entries > 0 {
        out +=
          "; values computed once from data alone \(formatBytes(h.bytes)) (\(formatValue(h.flops)) flops)"
      }
      out += "\n"
    }
    out += planCosts(problem)
    if let reason = selection.reason { out += reason + "\n" }
    if let tol = p.innerControls.tolerance, sizes.steps != nil {
      out +=
        "inner stopping: at most T steps, ending once ‖∇θ L_in‖ ≤ \(formatValue(tol)); \(selection.method.title) differentiates the steps actually taken\n"
    }
    if problem.startsWarm {
      out +=
        "warm start: each outer step's inner solve continues where the previous one ended (optimiser state included); \(selection.method.title) differentiates \(selection.method.underWarmStart)\n"
    }
    out +=
      "methods (time in inner steps c and derivative products; memory beyond the inner solve):\n"
    let estimates = MethodEstimates.all(sizes, costing: selection.method)
    for e in estimates {
      // The star marks the program's method (or auto's pick).
      let mark = e.method.sameVariant(selection.method) ? "*" : " "
      if let why = e.unavailable {
        out += "  \(mark) \(e.label): not applicable: \(why)\n"
      } else {
        out += "  \(mark) \(e.label): time \(e.time); memory \(e.memory)\n"
      }
    }
    return out
  }

  /// What one inner step (c) and the products the methods use cost, read
  /// from their plans: the figures every estimate below is a multiple of.
  static func planCosts(_ problem: BilevelProblem) -> String {
    let p = problem.source
    func flops<S>(_ f: Compiled<S>) -> Int {
      f.plan.instructions.indices.reduce(0) { $0 + f.plan.cost($1).flops }
    }
    var parts: [String] = []
    if problem.stepRule != nil {
      parts.append("c = \(flops(problem.step(0))) (one \(p.innerSolver!.name) step)")
    }
    if p.innerLoss != nil {
      parts.append("∇θ L_in \(flops(problem.innerGradient(0)))")
      parts.append("H v \(flops(problem.hessianVector(0)))")
      parts.append("mixed product \(flops(problem.mixed(0)))")
    }
    if p.innerFixpoint != nil {
      parts.append("E \(flops(problem.fixpoint(0)))")
      parts.append("(∂E/∂z)ᵀ u with (∂E/∂φ)ᵀ u \(flops(problem.fixpointPullback(0)))")
    }
    if problem.stepRule != nil {
      parts.append(
        "(∂Φ/∂s)ᵀ u with (∂Φ/∂φ)ᵀ u, reading the tape \(flops(problem.tapedPullback(0)))")
    }
    if p.isSingleLevel {
      // With the rewrites that chose its form (the primal or dual solve, hoisting).
      let plan = problem.outerGradient.plan
      let rewrites = plan.rewrites.map { "\($0.rule) ×\($0.count)" }.joined(separator: ", ")
      parts.append(
        "L_out with ∇φ L_out\(p.tasks != nil ? " (all tasks)" : "") \(flops(problem.outerGradient))"
          + (rewrites.isEmpty ? "" : " (planned with \(rewrites))"))
    }
    guard !parts.isEmpty else { return "" }
    return "flops per evaluation\(p.tasks != nil ? " and task" : ""), from the plans: "
      + parts.joined(separator: ", ") + "\n"
  }
}
