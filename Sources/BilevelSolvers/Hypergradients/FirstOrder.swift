import BilevelCore
import BilevelFrontEnd

/// `first_order`: dθ/dφ is taken as zero except through the initial point
/// θ₀(φ) (first-order MAML: θ₀ = φ passes straight through; first-order
/// DARTS: only the explicit ∂L_out/∂φ). The exact gradient of
/// φ ↦ L_out(θ(φ₀) + θ₀(φ) − θ₀(φ₀), φ) at φ = φ₀.
struct FirstOrder {
  let problem: BilevelProblem

  func compute(_ phi: [Double]) throws(SolverFault) -> HypergradientResult {
    let solver = InnerSolver(problem)
    let solution = try solver.solve(phi)
    let (loss, g0) = try problem.outerGradientOuter(solution.theta, phi)
    let cotangents = try problem.outerGradientsInner(solution.theta, phi)
    let parts = problem.eachTask { t in
      var part = problem.accumulator(t, explicit: g0)
      problem.addInitialPullback(&part, phi, cotangent: cotangents[t], task: t)
      return part
    }
    var result = HypergradientResult(
      parts: parts, explicit: g0, outerLoss: loss.isFinite ? loss : .nan, theta: solution.theta,
      innerSteps: solution.steps, innerResidual: solution.residual, linearSolve: nil,
      forwardSteps: solution.steps, peakStates: 1)
    result.innerSolveSeconds = solution.seconds
    result.finalStates = problem.wholeStates(solution)
    return result
  }
}

/// `finite_difference(eps: e)` (DARTS): the last gradient-descent step
/// θ_T = θ_{T−1} − η ∇θ L_in is differentiated with the mixed product
/// replaced by a central difference of ∇φ L_in at θ_{T−1} ± εv, ε = e/‖v‖,
/// v = ∂L_out/∂θ_T; earlier steps are held fixed (as truncated(1)), except
/// for a one-step unroll, where θ₀(φ) is differentiated too, with H v
/// differenced the same way.
struct FiniteDifferenceStep {
  let problem: BilevelProblem
  let eps: Double

  func compute(_ phi: [Double]) throws(SolverFault) -> HypergradientResult {
    let solver = InnerSolver(problem)
    let T = solver.fixedSteps ?? 1
    let rate = problem.learningRate([.phi: phi])
    let lr = rate[.rate][0]
    let lrGradient = rate[.gradient]
    // θ_{T−1} and θ_T of every task.
    let runs = try problem.eachTask {
      t throws(SolverFault) -> (before: [Double], theta: [Double]) in
      var runner = FixedStepRunner(problem, task: t, steps: T)
      var s = runner.start(phi)
      for k in 0..<(T - 1) { try runner.advance(&s, step: k) }
      let before = s
      try runner.advance(&s, step: T - 1)
      return (before, s)
    }
    let theta = runs.map(\.theta)
    let (loss, g0) = try problem.outerGradientOuter(theta, phi)
    let v = try problem.outerGradientsInner(theta, phi)
    let perTask = try problem.eachTask {
      t throws(SolverFault) -> (part: [Double], residual: Double) in
      var part = problem.accumulator(t, explicit: g0)
      let before = runs[t].before
      let vNorm = norm(v[t])
      let gradientOuter = problem.innerGradientOuter(t)
      let gradientInner = problem.innerGradient(t)
      // ⟨∇θ L_in, v⟩ ∇φ η: the learning rate's own dependence on φ, exact.
      let slope = dot(gradientInner([.theta: before, .phi: phi])[.gradient], v[t])
      for j in part.indices { part[j] -= slope * lrGradient[j] }
      var initialCotangent = v[t]
      if vNorm > 0 {
        let e = eps / vNorm
        let plus = zip(before, v[t]).map { $0 + e * $1 }
        let minus = zip(before, v[t]).map { $0 - e * $1 }
        let up = gradientOuter([.theta: plus, .phi: phi])[.gradient]
        let down = gradientOuter([.theta: minus, .phi: phi])[.gradient]
        for j in part.indices { part[j] -= lr * (up[j] - down[j]) / (2 * e) }
        if T == 1 {
          let hvUp = gradientInner([.theta: plus, .phi: phi])[.gradient]
          let hvDown = gradientInner([.theta: minus, .phi: phi])[.gradient]
          initialCotangent = (0..<v[t].count).map {
            v[t][$0] - lr * (hvUp[$0] - hvDown[$0]) / (2 * e)
          }
        }
      }
      if T == 1 { problem.addInitialPullback(&part, phi, cotangent: initialCotangent, task: t) }
      return (part, try solver.residual(theta[t], phi, task: t))
    }
    var result = HypergradientResult(
      parts: perTask.map(\.part), explicit: g0, outerLoss: loss.isFinite ? loss : .nan,
      theta: theta,
      innerSteps: T, innerResidual: perTask.reduce(0) { max($0, $1.residual) }, linearSolve: nil,
      forwardSteps: T, peakStates: 4)
    result.finalStates = theta
    guard allFinite(result.gradient) else {
      // Non-finite perturbed gradients come from too large a perturbation.
      throw SolverFault(
        .nonFinite,
        "the finite-difference hypergradient is not finite (eps = \(formatValue(eps)) perturbs θ by eps/‖∇θ L_out‖)",
        origin: problem.source.hypergradient?.settingRange("eps")
          ?? problem.source.hypergradient?.range)
    }
    return result
  }
}
