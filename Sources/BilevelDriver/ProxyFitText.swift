import BilevelCore
import BilevelSolvers

/// A proxy method's fit, as the run, `grad` and the JSON report it beside
/// the hypergradient.
enum ProxyFitText {
  static func line(_ fit: ProxyFit) -> String {
    "  proxy fit: ‖∇θ L_in‖ at P_α(φ) \(ErrorFigure.rounding.text(fit.innerGradientNorm)), "
      + "‖P_α(φ) − θ(φ)‖ \(ErrorFigure.rounding.text(fit.distanceToSolution)) against the inner solver's θ "
      + "(\(fit.parameters.count) parameters, \(fit.trainingSteps) training steps, training loss \(formatValue(fit.trainingLoss)))\n"
  }

  static func json(_ fit: ProxyFit) -> JSONValue {
    .object([
      ("inner_gradient_norm", .double(fit.innerGradientNorm)),
      ("distance_to_solution", .double(fit.distanceToSolution)),
      ("parameters", .int(fit.parameters.count)),
      ("training_steps", .int(fit.trainingSteps)),
      ("training_loss", .double(fit.trainingLoss)),
    ])
  }
}
