import BilevelCore
import BilevelFrontEnd

/// The run-time half of the warnings before a result misleads: what the
/// figures of one hypergradient say about whether to trust it. Shown in the
/// run's summary, `grad` and the JSON result.
public enum ResultWarnings {
  /// ‖∇θ L_in‖ above which an implicit (or closed-form) hypergradient is
  /// taken at a point that is not the inner solution: the implicit function
  /// theorem's linear system then describes another point, and the error of
  /// the hypergradient grows in proportion to the residual.
  public static let implicitResidualLimit = 1e-6

  public static func warnings(
    _ problem: BilevelProblem, method: HypergradientMethod, result: HypergradientResult
  ) -> [String] {
    guard !problem.source.isSingleLevel else { return [] }
    var out: [String] = []
    let solver = InnerSolver(problem)
    let what = problem.hasFixpoint ? "‖E(z) − z‖" : "‖∇θ L_in‖"
    if let (name, tol, maxSteps) = solver.toleranceLimits,
      solver.stoppedAboveTolerance(result.innerResidual)
    {
      out.append(
        "not converged: \(name) stopped at max_steps = \(maxSteps) with \(what) = \(formatValue(result.innerResidual)) above tol = \(formatValue(tol)); "
          + (name == "newton"
            ? "raise max_steps or tol (or ask for newton(steps: K))" : "raise max_steps or tol"))
    }
    let atSolution = method.kind == .implicit || method.kind == .closedForm
    if atSolution, result.innerResidual.isFinite, result.innerResidual > implicitResidualLimit {
      out.append(
        "\(method.title) differentiates the inner solution, but \(what) = \(formatValue(result.innerResidual)) at the inner point it used "
          + "(far from converged, > \(formatValue(implicitResidualLimit))): the hypergradient is that of another point, with an error that grows with the residual; "
          + "solve the inner problem further or use unroll")
    }
    return out
  }
}
