import BilevelCore

/// `unroll(forward)`: carries Z = ds/dφ (one tangent column per outer entry)
/// along the steps, Z_{k+1} = (∂Φ/∂s) Z_k + ∂Φ/∂φ from Z₀ = (∂θ₀/∂φ, 0), then
/// dL_out/dφ_j = ∂L_out/∂φ_j + ⟨∂L_out/∂θ_T, Z_T e_j⟩. Memory d·m, time T·m
/// Jacobian-vector products: the method for tiny m and long horizons.
struct UnrolledForward {
  let problem: BilevelProblem

  func compute(_ phi: [Double]) throws(SolverFault) -> HypergradientResult {
    let solver = InnerSolver(problem)
    let T = solver.fixedSteps ?? 0
    let m = problem.outerSize
    let extra = [Double](repeating: 0, count: problem.stateSize - problem.innerSize)
    var theta: [[Double]] = []
    var tangents: [[[Double]]] = []
    let units = (0..<m).map { j in (0..<m).map { $0 == j ? 1.0 : 0.0 } }
    for t in 0..<problem.tasks {
      let runner = FixedStepRunner(problem, task: t, steps: T)
      let tangentStep = problem.stepTangent(t)
      let initialTangent = problem.initialTangent(t)
      initialTangent.load(0, phi)
      var z: [[Double]] = units.map { e in
        initialTangent.load(1, e)
        initialTangent.run()
        return initialTangent.result(0) + extra
      }
      var s = runner.start(phi)
      tangentStep.load(1, phi)
      for k in 0..<T {
        tangentStep.load(0, s)
        tangentStep.load(2, runner.biasValues(k))
        for j in 0..<m {
          tangentStep.load(3, z[j])
          tangentStep.load(4, units[j])
          tangentStep.run()
          tangentStep.store(0, into: &z[j])
          guard allFinite(z[j]) else {
            throw SolverFault.nonFinite("the forward tangent of inner step \(k + 1) of \(T) (\(problem.taskLabel(t))unroll(forward)) is not finite",
                                        in: tangentStep, problem: problem)
          }
        }
        try runner.advance(&s, step: k)
      }
      theta.append(Array(s.prefix(problem.innerSize)))
      tangents.append(z)
    }
    var (loss, g) = try problem.outerGradientOuter(theta, phi)
    let thetaGradients = try problem.outerGradientsInner(theta, phi)
    for t in 0..<problem.tasks {
      for j in 0..<m {
        var s = 0.0
        for i in 0..<problem.innerSize { s += thetaGradients[t][i] * tangents[t][j][i] }
        g[j] += s
      }
    }
    var residual = 0.0
    for t in 0..<problem.tasks { residual = max(residual, try solver.residual(theta[t], phi, task: t)) }
    loss = loss.isFinite ? loss : .nan
    return HypergradientResult(gradient: g, outerLoss: loss, theta: theta, innerSteps: T, innerResidual: residual,
                               linearSolve: nil, forwardSteps: T, peakStates: m + 1)
  }
}
