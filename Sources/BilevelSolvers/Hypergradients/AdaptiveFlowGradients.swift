import BilevelCore
import BilevelFrontEnd

/// unroll(forward) and adjoint for `flow(method: dopri5)`. Both work on the
/// grid of steps h_1…h_N the forward solve accepted: the lengths are held
/// constant except the last, h_N = H − t_{N−1}, whose derivative is ∇φ H
/// (a perturbed horizon moves only where the last step lands).
struct AdaptiveFlowGradients {
  let problem: BilevelProblem
  let tolerances: AdaptiveTolerances

  /// The forward sensitivity: Z = dθ/dφ carried through each accepted step's
  /// stages, K̇_i = −(H(Y_i) Ẏ_i + (∂∇θ L_in/∂φ) φ̇) with
  /// Ẏ_i = Ż + h Σ a_ij K̇_j + ḣ Σ a_ij K_j, then Ż' = Ż + h Σ b_i K̇_i + ḣ Σ b_i K_i;
  /// ḣ = ⟨∇φ H, φ̇⟩ on the last step, 0 before it.
  func forward(_ phi: [Double]) throws(SolverFault) -> HypergradientResult {
    let m = problem.outerSize
    let horizonGradient = problem.learningRate([.phi: phi])[.gradient]
    let units = (0..<m).map { j in (0..<m).map { $0 == j ? 1.0 : 0.0 } }
    let sweeps = try problem.eachTask {
      t throws(SolverFault) -> (theta: [Double], tangents: [[Double]], taken: Int) in
      let solution = try problem.solveAdaptiveFlow(phi, task: t, tolerances: tolerances)
      let flow = AdaptiveFlow(problem, task: t, tolerances: tolerances)
      flow.gradient.load(.phi, phi)
      let tangent = problem.gradientTangent(t)
      tangent.load(.phi, phi)
      let initialTangent = problem.initialTangent(t)
      initialTangent.load(.phi, phi)
      var z: [[Double]] = units.map { e in
        initialTangent.load(.outerTangent, e)
        initialTangent.run()
        return initialTangent.result(.tangent)
      }
      var y = Array(problem.startState(t, phi).prefix(problem.innerSize))
      var f = try flow.field(y)
      let dp = DormandPrince.self
      for (n, h) in solution.steps.enumerated() {
        let (k, points) = try flow.stages(y, f, h)
        for j in 0..<m {
          let hDot = n == solution.steps.count - 1 ? horizonGradient[j] : 0
          var kDot: [[Double]] = []
          for i in 0..<6 {
            var pointDot = z[j]
            for l in 0..<i where dp.a[i][l] != 0 {
              for e in pointDot.indices {
                pointDot[e] += h * dp.a[i][l] * kDot[l][e] + hDot * dp.a[i][l] * k[l][e]
              }
            }
            tangent.load(.theta, points[i])
            tangent.load(.direction, pointDot)
            tangent.load(.outerTangent, units[j])
            tangent.run()
            kDot.append(tangent.result(.product).map { -$0 })
          }
          for i in 0..<6 where dp.b[i] != 0 {
            for e in z[j].indices { z[j][e] += h * dp.b[i] * kDot[i][e] + hDot * dp.b[i] * k[i][e] }
          }
          guard allFinite(z[j]) else {
            throw SolverFault.nonFinite(
              "the forward tangent of flow step \(n + 1) of \(solution.steps.count) (\(problem.taskLabel(t))unroll(forward)) is not finite",
              in: tangent, problem: problem)
          }
        }
        y = AdaptiveFlow.advance(y, k, h)
        f = k[dp.stages - 1]
      }
      return (solution.theta, z, solution.steps.count)
    }
    let theta = sweeps.map(\.theta)
    let (loss, g0) = try problem.outerGradientOuter(theta, phi)
    let v = try problem.outerGradientsInner(theta, phi)
    let solver = InnerSolver(problem)
    let perTask = try problem.eachTask {
      t throws(SolverFault) -> (part: [Double], residual: Double) in
      var part = problem.accumulator(t, explicit: g0)
      for j in 0..<m { part[j] += dot(v[t], sweeps[t].tangents[j]) }
      return (part, try solver.residual(theta[t], phi, task: t))
    }
    let taken = sweeps.map(\.taken).max() ?? 0
    return HypergradientResult(
      parts: perTask.map(\.part), explicit: g0, outerLoss: loss.isFinite ? loss : .nan,
      theta: theta, innerSteps: taken, innerResidual: perTask.reduce(0) { max($0, $1.residual) },
      linearSolve: nil, forwardSteps: taken, peakStates: m + 1)
  }

  /// The adjoint: the reversed-time system of FlowAdjoint integrated back
  /// from (θ(H), ∂L_out/∂θ, 0) over the accepted steps in reverse order,
  /// h_N first, each by the same Dormand–Prince 5th-order stages.
  func adjoint(_ phi: [Double]) throws(SolverFault) -> HypergradientResult {
    let horizonGradient = problem.learningRate([.phi: phi])[.gradient]
    let solutions = try problem.eachTask { t throws(SolverFault) in
      try problem.solveAdaptiveFlow(phi, task: t, tolerances: tolerances)
    }
    let theta = solutions.map(\.theta)
    let (loss, g0) = try problem.outerGradientOuter(theta, phi)
    let v = try problem.outerGradientsInner(theta, phi)
    let dp = DormandPrince.self
    let perTask = try problem.eachTask {
      t throws(SolverFault) -> (part: [Double], residual: Double) in
      let field = FlowAdjoint.AugmentedField(problem: problem, task: t, phi: phi)
      var part = problem.accumulator(t, explicit: g0)
      let endGradient = try field.gradient(theta[t])
      let slope = -dot(v[t], endGradient)
      for j in part.indices { part[j] += slope * horizonGradient[j] }
      var y = FlowAdjoint.State(
        theta: theta[t], a: v[t], q: [Double](repeating: 0, count: phi.count))
      let steps = solutions[t].steps
      for (n, h) in steps.reversed().enumerated() {
        var k: [FlowAdjoint.State] = []
        for i in 0..<6 {
          var point = y
          for l in 0..<i where dp.a[i][l] != 0 { point = point.plus(h * dp.a[i][l], k[l]) }
          k.append(try field(point))
        }
        for i in 0..<6 where dp.b[i] != 0 { y = y.plus(h * dp.b[i], k[i]) }
        guard allFinite(y.a), allFinite(y.q) else {
          throw SolverFault(
            .nonFinite,
            "the adjoint of flow step \(steps.count - n) of \(steps.count) (\(problem.taskLabel(t))adjoint) is not finite",
            origin: problem.source.innerSolver?.range)
        }
      }
      for j in part.indices { part[j] -= y.q[j] }
      problem.addInitialPullback(&part, phi, cotangent: y.a, task: t)
      return (part, norm(endGradient))
    }
    let taken = solutions.map(\.steps.count).max() ?? 0
    return HypergradientResult(
      parts: perTask.map(\.part), explicit: g0, outerLoss: loss.isFinite ? loss : .nan,
      theta: theta, innerSteps: taken, innerResidual: perTask.reduce(0) { max($0, $1.residual) },
      linearSolve: nil, forwardSteps: taken, peakStates: 2)
  }
}
