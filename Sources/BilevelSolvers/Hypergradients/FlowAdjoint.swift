import BilevelCore
import BilevelFrontEnd

/// `adjoint` for a gradient-flow inner solver (survey eq. 22, Chen et al.
/// 2018's adjoint sensitivity): θ' = f(θ, φ) = −∇θ L_in runs to the horizon
/// H(φ); then, in reversed time s = H − t, the augmented system
///   dθ/ds = ∇θ L_in(θ),  da/ds = −H_in(θ) a,  dq/ds = (∂²L_in/∂φ∂θ) a
/// is integrated back from θ(H), a(H) = ∂L_out/∂θ, q = 0 by RK4 with the
/// forward step. Then dL_out/dφ = ∂L_out/∂φ − q + (∂θ₀/∂φ)ᵀ a(0)
/// + ⟨a(H), f(θ(H))⟩ ∇φ H, the last term the horizon's own derivative.
/// Nothing is stored along the way: memory O(d + m) for any horizon. It
/// differentiates the exact flow, so it meets the RK4 map's gradient to
/// O(dt⁴). With `method: dopri5` it runs back over the accepted steps
/// (AdaptiveFlowGradients).
struct FlowAdjoint {
  let problem: BilevelProblem

  func compute(_ phi: [Double]) throws(SolverFault) -> HypergradientResult {
    if let tolerances = problem.adaptiveFlow {
      return try AdaptiveFlowGradients(problem: problem, tolerances: tolerances).adjoint(phi)
    }
    let solver = InnerSolver(problem)
    let T = solver.fixedSteps ?? 0
    let rate = problem.learningRate([.phi: phi])
    let horizon = rate[.rate][0]
    let horizonGradient = rate[.gradient]
    let theta = try problem.eachTask { t throws(SolverFault) -> [Double] in
      var runner = FixedStepRunner(problem, task: t, steps: T)
      return try runner.run(phi)
    }
    let (loss, g0) = try problem.outerGradientOuter(theta, phi)
    let v = try problem.outerGradientsInner(theta, phi)
    let ds = horizon / Double(max(T, 1))
    let perTask = try problem.eachTask {
      t throws(SolverFault) -> (part: [Double], residual: Double) in
      let field = AugmentedField(problem: problem, task: t, phi: phi)
      var part = problem.accumulator(t, explicit: g0)
      // The horizon's derivative: ⟨a(H), −∇θ L_in(θ(H))⟩ ∇φ H.
      let endGradient = try field.gradient(theta[t])
      let slope = -dot(v[t], endGradient)
      for j in part.indices { part[j] += slope * horizonGradient[j] }
      var y = State(theta: theta[t], a: v[t], q: [Double](repeating: 0, count: phi.count))
      for k in 0..<T {
        let k1 = try field(y)
        let k2 = try field(y.plus(0.5 * ds, k1))
        let k3 = try field(y.plus(0.5 * ds, k2))
        let k4 = try field(y.plus(ds, k3))
        y = y.plus(ds / 6, k1).plus(ds / 3, k2).plus(ds / 3, k3).plus(ds / 6, k4)
        guard allFinite(y.a), allFinite(y.q) else {
          throw SolverFault(
            .nonFinite,
            "the adjoint of flow step \(T - k) of \(T) (\(problem.taskLabel(t))adjoint) is not finite",
            origin: problem.source.innerSolver?.range)
        }
      }
      for j in part.indices { part[j] -= y.q[j] }
      problem.addInitialPullback(&part, phi, cotangent: y.a, task: t)
      return (part, norm(endGradient))
    }
    return HypergradientResult(
      parts: perTask.map(\.part), explicit: g0, outerLoss: loss.isFinite ? loss : .nan,
      theta: theta,
      innerSteps: T, innerResidual: perTask.reduce(0) { max($0, $1.residual) }, linearSolve: nil,
      forwardSteps: T, peakStates: 2)
  }

  /// (θ, a, q) of the reversed-time system.
  struct State {
    var theta: [Double]
    var a: [Double]
    var q: [Double]

    func plus(_ c: Double, _ d: State) -> State {
      State(
        theta: zip(theta, d.theta).map { $0 + c * $1 }, a: zip(a, d.a).map { $0 + c * $1 },
        q: zip(q, d.q).map { $0 + c * $1 })
    }
  }

  /// The reversed-time right-hand side: one gradient, one Hessian-vector
  /// and one mixed product at θ.
  struct AugmentedField {
    let problem: BilevelProblem
    let task: Int
    let gradientFunction: Compiled<InnerGradient>
    let hessian: Compiled<HessianVectorProduct>
    let mixed: Compiled<MixedProduct>

    init(problem: BilevelProblem, task t: Int, phi: [Double]) {
      self.problem = problem
      task = t
      gradientFunction = problem.innerGradient(t)
      hessian = problem.hessianVector(t)
      mixed = problem.mixed(t)
      gradientFunction.load(.phi, phi)
      hessian.load(.phi, phi)
      mixed.load(.phi, phi)
    }

    func gradient(_ theta: [Double]) throws(SolverFault) -> [Double] {
      gradientFunction.load(.theta, theta)
      gradientFunction.run()
      let g = gradientFunction.result(.gradient)
      guard allFinite(g) else {
        throw SolverFault.nonFinite(
          "the flow's field (\(problem.taskLabel(task))inner gradient) is not finite",
          in: gradientFunction, problem: problem)
      }
      return g
    }

    func callAsFunction(_ y: State) throws(SolverFault) -> State {
      let g = try gradient(y.theta)
      hessian.load(.theta, y.theta)
      hessian.load(.direction, y.a)
      hessian.run()
      mixed.load(.theta, y.theta)
      mixed.load(.direction, y.a)
      mixed.run()
      return State(theta: g, a: hessian.result(.product).map { -$0 }, q: mixed.result(.product))
    }
  }
}

extension FlowAdjoint {
  static let record = MethodRecord(
    inapplicable: { s in
      guard case .flow? = s.innerSolver else {
        return
          "it integrates the adjoint of a gradient flow, but the inner solver is '\(s.innerSolverName)'; use flow(horizon: …, steps: …)"
      }
      return nil
    },
    view: .iterations,
    cost: { s in
      let T = s.steps ?? s.adaptiveMaxSteps ?? 0
      let bytes = (2 * s.inner + s.outer) * Bytes.double * s.tasks
      return MethodCost(
        label: MethodKind.adjoint.rawValue,
        time: s.adaptiveFlow
          ? "the adaptive flow (at most max_steps = \(T) accepted steps) + its accepted steps reversed with the same tableau (lengths held but the last, horizon − t), 6 stages of a gradient, an HVP and a mixed product each"
          : "the flow (T = \(T)) + \(T) RK4 steps back, 4 stages of a gradient, an HVP and a mixed product each",
        memoryBytes: bytes, memory: "θ, a and q: 2d + m doubles = \(formatBytes(bytes))")
    },
    checkedMap: { _ in .unrolled },
    checkFamily: .exact,
    compute: { problem, phi throws(SolverFault) in try FlowAdjoint(problem: problem).compute(phi) })
}
