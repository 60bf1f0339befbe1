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

  static func text(_ p: Program, title: String, budgetMB: Double? = nil) -> String {
    var out = header(p, title: title)
    for f in p.csvFiles { out += "  data file: \(f.path), \(f.delimiter.rawValue), \(f.shape)\n" }
    if p.isSingleLevel {
      return out
        + "single level: each outer step takes the exact gradient ∇φ L_out; there is no hypergradient method to choose\n"
    }
    let problem = BilevelProblem(p)
    let sizes = ProblemSizes(problem)
    let selection = MethodSelection(problem, budgetMB: budgetMB)
    out += "sizes: d = \(sizes.inner), m = \(sizes.outer), unrolled state = \(sizes.state) doubles"
    out +=
      sizes.steps.map { ", T = \($0) inner step\($0 == 1 ? "" : "s")" }
      ?? (sizes.innerSolver == nil ? ", no inner iterations" : ", inner steps until tolerance")
    out += sizes.tasks > 1 ? ", \(sizes.tasks) tasks\n" : "\n"
    out += planCosts(problem)
    if let reason = selection.reason { out += reason + "\n" }
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
    guard !parts.isEmpty else { return "" }
    return "flops per evaluation\(p.tasks != nil ? " and task" : ""), from the plans: "
      + parts.joined(separator: ", ") + "\n"
  }
}
