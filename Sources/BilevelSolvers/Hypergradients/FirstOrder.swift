import BilevelCore

/// `first_order`: dθ/dφ is taken as zero except through the initial point
/// θ₀(φ) (first-order MAML: θ₀ = φ passes straight through; first-order
/// DARTS: only the explicit ∂L_out/∂φ). The exact gradient of
/// φ ↦ L_out(θ(φ₀) + θ₀(φ) − θ₀(φ₀), φ) at φ = φ₀.
struct FirstOrder {
  let problem: BilevelProblem

  func compute(_ phi: [Double]) throws(SolverFault) -> HypergradientResult {
    let solver = InnerSolver(problem)
    let solution = try solver.solve(phi)
    var (loss, g) = try problem.outerGradientOuter(solution.theta, phi)
    problem.addInitialPullback(&g, phi, cotangents: try problem.outerGradientsInner(solution.theta, phi))
    loss = loss.isFinite ? loss : .nan
    return HypergradientResult(gradient: g, outerLoss: loss, theta: solution.theta, innerSteps: solution.steps,
                               innerResidual: solution.residual, linearSolve: nil, forwardSteps: solution.steps, peakStates: 1)
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
    let T = InnerSolver(problem).fixedSteps ?? 1
    let rate = problem.learningRate(phi)
    let lr = rate[0][0]
    let lrGradient = rate[1]
    var before: [[Double]] = []
    var theta: [[Double]] = []
    for t in 0..<problem.tasks {
      let runner = FixedStepRunner(problem, task: t, steps: T)
      var s = runner.start(phi)
      for k in 0..<(T - 1) { try runner.advance(&s, step: k) }
      before.append(s)
      try runner.advance(&s, step: T - 1)
      theta.append(s)
    }
    var (loss, g) = try problem.outerGradientOuter(theta, phi)
    let v = try problem.outerGradientsInner(theta, phi)
    var initialCotangents: [[Double]] = []
    for t in 0..<problem.tasks {
      let vNorm = norm(v[t])
      let gradientOuter = problem.innerGradientOuter(t)
      let gradientInner = problem.innerGradient(t)
      // ⟨∇θ L_in, v⟩ ∇φ η: the learning rate's own dependence on φ, exact.
      let slope = dot(gradientInner(before[t], phi)[0], v[t])
      for j in g.indices { g[j] -= slope * lrGradient[j] }
      guard vNorm > 0 else {
        initialCotangents.append(v[t])
        continue
      }
      let e = eps / vNorm
      let plus = zip(before[t], v[t]).map { $0 + e * $1 }
      let minus = zip(before[t], v[t]).map { $0 - e * $1 }
      let up = gradientOuter(plus, phi)[0]
      let down = gradientOuter(minus, phi)[0]
      for j in g.indices { g[j] -= lr * (up[j] - down[j]) / (2 * e) }
      if T == 1 {
        let hvUp = gradientInner(plus, phi)[0]
        let hvDown = gradientInner(minus, phi)[0]
        initialCotangents.append((0..<v[t].count).map { v[t][$0] - lr * (hvUp[$0] - hvDown[$0]) / (2 * e) })
      }
    }
    if T == 1 { problem.addInitialPullback(&g, phi, cotangents: initialCotangents) }
    guard allFinite(g) else { throw SolverFault("the finite-difference hypergradient is not finite") }
    var residual = 0.0
    for t in 0..<problem.tasks { residual = max(residual, try InnerSolver(problem).residual(theta[t], phi, task: t)) }
    loss = loss.isFinite ? loss : .nan
    return HypergradientResult(gradient: g, outerLoss: loss, theta: theta, innerSteps: T, innerResidual: residual,
                               linearSolve: nil, forwardSteps: T, peakStates: 4)
  }
}
