import BilevelCore
import BilevelFrontEnd
import BilevelSolvers

/// `bilevelc grad FILE`: the outer loss and the hypergradient at the initial
/// point, one evaluation, per outer variable (and per task).
extension Commands {
  func gradient(_ program: Program, title: String) -> Int32 {
    let problem = BilevelProblem(program)
    let selection = MethodSelection(problem, budgetMB: options.budgetMB)
    var phi = problem.initialOuter()
    OuterOptimizer(program.outerSolver, bounds: problem.outerBounds()).project(&phi)
    let what =
      program.isSingleLevel
      ? "the gradient of the outer loss" : "hypergradient by \(selection.method.description)"
    if !program.isSingleLevel,
      let fault = selection.budgetFault(
        MethodEstimates.estimate(ProblemSizes(problem), of: selection.method),
        at: program.hypergradient?.range)
    {
      environment.standardError(
        DiagnosticRenderer.render([.error(Message(fault.message), at: fault.origin)]))
      return 1
    }
    if let fault = TimeBudget(
      problem, method: selection.method, outerSteps: 0, hoistedFlops: selection.hoisted.flops
    ).fault(
      budget: options.budgetSeconds ?? TimeBudget.defaultSeconds, at: program.innerSolver?.range)
    {
      environment.standardError(
        DiagnosticRenderer.render([.error(Message(fault.message), at: fault.origin)]))
      return 1
    }
    let result: HypergradientResult
    do {
      result = try problem.hypergradient(selection.method, at: phi)
    } catch {
      environment.standardError(
        DiagnosticRenderer.render([.error(Message(error.message), at: error.origin)]))
      if let path = options.jsonPath {
        _ = write(
          RunRecords.gradJSON(problem, nil, fault: error, method: selection.method, title: title),
          to: path, option: "--json")
      }
      return 1
    }
    var text = "\(title): at the initial point, \(what)\n"
    text += "  outer loss: \(formatValue(result.outerLoss))\n"
    for (v, offset) in problem.outerBlocks {
      text +=
        "  ∂/∂\(v.name) = \(ValueFormatting.text(Tensor(shape: v.shape, scalars: Array(result.gradient[offset..<(offset + v.shape.count)]))))\n"
    }
    text +=
      "  \(program.isSingleLevel ? "gradient" : "hypergradient") norm: \(formatValue(result.gradientNorm))\n"
    if !program.isSingleLevel {
      let residual = problem.hasFixpoint ? "‖E(z) − z‖" : "‖∇θ L_in‖"
      let how =
        selection.method == .closedForm
        ? "solved in closed form"
        : "after \(result.innerSteps) inner step\(result.innerSteps == 1 ? "" : "s")"
      text +=
        "  inner residual \(residual) \(ErrorFigure.rounding.text(result.innerResidual)) \(how)\n"
      if let fit = result.proxy { text += ProxyFitText.line(fit) }
      for w in ResultWarnings.warnings(problem, method: selection.method, result: result) {
        text += "  warning: \(w)\n"
      }
    }
    let parts = result.throughEachTask
    if parts.count > 1 {
      text +=
        "  per task (the hypergradient is the explicit term ∂L_out/∂φ plus each task's path through its inner solve):\n"
      text += "    explicit: norm \(formatValue(norm(result.explicitGradient)))\n"
      for (t, part) in parts.enumerated() {
        let pieces = problem.outerBlocks.map { v, offset in
          "‖\(v.name)‖ \(formatValue(norm(Array(part[offset..<(offset + v.shape.count)]))))"
        }
        text +=
          "    task \(t + 1): norm \(formatValue(norm(part))) (\(pieces.joined(separator: ", ")))\n"
      }
    }
    out(text)
    if let path = options.jsonPath {
      return write(
        RunRecords.gradJSON(problem, result, fault: nil, method: selection.method, title: title),
        to: path, option: "--json") ? 0 : 1
    }
    return 0
  }
}
