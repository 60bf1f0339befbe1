import BilevelCore
import BilevelFrontEnd

/// `unroll(forward)`: carries Z = ds/dφ (one tangent column per outer entry)
/// along the steps, Z_{k+1} = (∂Φ/∂s) Z_k + ∂Φ/∂φ from Z₀ = (∂θ₀/∂φ, 0), then
/// dL_out/dφ_j = ∂L_out/∂φ_j + ⟨∂L_out/∂θ_T, Z_T e_j⟩. Memory d·m, time T·m
/// Jacobian-vector products: the method for tiny m and long horizons.
struct UnrolledForward {
  let problem: BilevelProblem

  func compute(_ phi: [Double]) throws(SolverFault) -> HypergradientResult {
    if let tolerances = problem.adaptiveFlow {
      return try AdaptiveFlowGradients(problem: problem, tolerances: tolerances).forward(phi)
    }
    let solver = InnerSolver(problem)
    let T = solver.fixedSteps ?? 0
    let m = problem.outerSize
    let extra = [Double](repeating: 0, count: problem.stateSize - problem.innerSize)
    let units = (0..<m).map { j in (0..<m).map { $0 == j ? 1.0 : 0.0 } }
    // Over the trajectory (eq. 12), ∂L_out/∂θ_t couples the tasks at each step: a pass first.
    let objective = problem.overTrajectory ? try TrajectoryObjective(problem, phi) : nil
    // Each task's θ_T and tangents Z_T e_j, in parallel.
    let sweeps = try problem.eachTask {
      t throws(SolverFault) -> (
        state: [Double], tangents: [[Double]], taken: Int, pairings: [Double]
      ) in
      var runner = FixedStepRunner(problem, task: t, steps: T)
      let tangentStep = problem.stepTangent(t)
      let initialTangent = problem.initialTangent(t)
      initialTangent.load(.phi, phi)
      // A carried start is held constant: its tangent is zero.
      var z: [[Double]] = units.map { e in
        guard problem.differentiatesStart else {
          return [Double](repeating: 0, count: problem.stateSize)
        }
        initialTangent.load(.outerTangent, e)
        initialTangent.run()
        return initialTangent.result(.tangent) + extra
      }
      var s = runner.start(phi)
      var next = s
      var taken = 0
      var pairings = [Double](repeating: 0, count: m)
      tangentStep.load(.phi, phi)
      for k in 0..<T {
        // The step first, so a tolerance can stop the sweep before its tangent is taken.
        for i in s.indices { next[i] = s[i] }
        guard try runner.advanceUnlessConverged(&next, step: k) else { break }
        taken += 1
        tangentStep.load(.state, s)
        runner.loadBias(k, into: tangentStep)
        for j in 0..<m {
          tangentStep.load(.stateTangent, z[j])
          tangentStep.load(.outerTangent, units[j])
          tangentStep.run()
          tangentStep.store(.tangent, into: &z[j])
          guard allFinite(z[j]) else {
            throw SolverFault.nonFinite(
              "the forward tangent of inner step \(k + 1) of \(T) (\(problem.taskLabel(t))unroll(forward)) is not finite",
              in: tangentStep, problem: problem)
          }
        }
        swap(&s, &next)
        // ⟨∂L_out/∂θ_{k+1}, Z_{k+1} e_j⟩ for the steps before the last.
        if let g = objective?.thetaGradients[t], k + 1 < T {
          for j in 0..<m {
            for i in 0..<problem.innerSize { pairings[j] += g[k][i] * z[j][i] }
          }
        }
      }
      return (s, z, taken, pairings)
    }
    let theta = sweeps.map { Array($0.state.prefix(problem.innerSize)) }
    let taken = sweeps.map(\.taken).max() ?? 0
    let (loss, g0, thetaGradients) = try problem.outerTermsAtLastStep(
      theta, phi, objective: objective, steps: T)
    let perTask = try problem.eachTask {
      t throws(SolverFault) -> (part: [Double], residual: Double) in
      var part = problem.accumulator(t, explicit: g0)
      for j in 0..<m {
        // Over the trajectory, steps 1 … T−1 were paired with their tangents during the sweep.
        var s = sweeps[t].pairings[j]
        for i in 0..<problem.innerSize { s += thetaGradients[t][i] * sweeps[t].tangents[j][i] }
        part[j] += s
      }
      return (part, try solver.residual(theta[t], phi, task: t))
    }
    var result = HypergradientResult(
      parts: perTask.map(\.part), explicit: g0, outerLoss: loss.isFinite ? loss : .nan,
      theta: theta,
      innerSteps: taken, innerResidual: perTask.reduce(0) { max($0, $1.residual) },
      linearSolve: nil, forwardSteps: taken, peakStates: m + 1)
    result.finalStates = sweeps.map(\.state)
    result.finalSteps = sweeps.map(\.taken)
    return result
  }
}
