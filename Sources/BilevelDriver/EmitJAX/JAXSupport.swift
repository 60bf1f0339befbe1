import BilevelCore
import BilevelFrontEnd
import BilevelSolvers

/// What `--emit jax` refuses, each at its place in the source: what JAX
/// would not compute the same way is never emitted.
enum JAXSupport {
  static func check(_ p: Program, _ method: HypergradientMethod) throws(JAXRefusal) {
    if let b = p.batches.first {
      throw JAXRefusal(
        message:
          "--emit jax does not emit minibatch streams yet: the batches are drawn per step at run time, "
          + "which the emitted module would have to replay inside its scan",
        range: b.range)
    }
    if let e = p.episodes.first {
      throw JAXRefusal(
        message:
          "--emit jax does not emit episode streams yet: each outer step's tasks are drawn at run time",
        range: e.range)
    }
    if let r = p.outerTrajectory {
      throw JAXRefusal(
        message:
          "--emit jax does not emit an outer loss summed over the trajectory yet: the emitted scan returns only the last inner state",
        range: r)
    }
    if case .newton? = p.innerSolver?.spec {
      throw JAXRefusal(
        message:
          "--emit jax does not emit the newton inner solver: its CG-truncated steps and backtracking line search "
          + "take data-dependent branches whose path a traced JAX loop would not reproduce step for step; use gd, momentum or adam",
        range: p.innerSolver?.range)
    }
    if case .flow? = p.innerSolver?.spec {
      throw JAXRefusal(
        message: "--emit jax does not emit the flow inner solver yet; use gd, momentum or adam",
        range: p.innerSolver?.range)
    }
    if let lr = p.innerSolver?.spec.expressions.first, p.variables(.inner).count > 1,
      p.graph.shape(lr) == .vector(p.size(.inner))
    {
      throw JAXRefusal(
        message:
          "--emit jax does not emit a learning rate over all inner variables' entries yet; give one per variable's shape or a scalar",
        range: p.innerSolver?.range)
    }
    if p.innerControls != StepControls() || p.outerControls != StepControls() {
      throw JAXRefusal(
        message:
          "--emit jax does not emit learning-rate schedules, gradient clipping or tolerances on fixed-step solvers yet",
        range: p.innerControls != StepControls() ? p.innerSolver?.range : p.outerSolver?.range)
    }
    if p.innerStart == .warm {
      throw JAXRefusal(
        message:
          "--emit jax does not emit warm-started inner solvers yet ('start: warm'): the module re-solves from θ₀ at every outer step; use 'start: cold'",
        range: p.innerSolver?.range)
    }
    if let s = p.ruleStates.first {
      throw JAXRefusal(
        message:
          "--emit jax does not emit a rule's recurrent state yet ('state \(s.name)'); a stateless rule is emitted",
        range: s.range)
    }
    if case .proxy = method {
      throw JAXRefusal(
        message:
          "--emit jax does not emit proxy methods: the training of α alternating with the outer steps is not emitted yet; use implicit(cg) or unroll(reverse)",
        range: p.hypergradient?.range)
    }
    switch method {
    case .adjoint:
      throw JAXRefusal(
        message:
          "--emit jax does not emit the adjoint method yet; use unroll(forward) or unroll(reverse)",
        range: p.hypergradient?.range)
    case .evograd(_, _, _, _, let fresh, let data) where fresh || data != nil:
      throw JAXRefusal(
        message:
          "--emit jax emits evograd with fixed draws only; 'draws: fresh' and draws from data are not emitted yet",
        range: p.hypergradient?.range)
    default: break
    }
    if p.tasks != nil, let i = p.variables(.inner).first(where: { !p.variables[$0].perTask }) {
      throw JAXRefusal(
        message:
          "--emit jax: inner variable '\(p.variables[i].name)' is shared by the tasks; the emitted vmap needs per-task inner variables",
        range: p.variables[i].range)
    }
    if p.isSingleLevel { return }
    let problem = BilevelProblem(p)
    if let why = MethodEstimates.estimate(ProblemSizes(problem), of: method).unavailable {
      throw JAXRefusal(
        message: "--emit jax: \(method.description) does not apply: \(why)",
        range: p.hypergradient?.range)
    }
    if case .finiteDifference = method {
      guard case .gd(let lr, _)? = p.innerSolver?.spec, p.graph.shape(lr).isScalar else {
        throw JAXRefusal(
          message:
            "--emit jax: finite_difference needs gradient descent with one scalar learning rate",
          range: p.hypergradient?.range ?? p.innerSolver?.range)
      }
    }
  }
}
