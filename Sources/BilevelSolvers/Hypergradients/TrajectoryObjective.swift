import BilevelCore
import BilevelFrontEnd

/// `outer loss = … over trajectory`: the meta-objective of survey eq. 12
/// (Andrychowicz et al. 2016), F(φ) = Σ_{t=1..T} w_t L_out(θ_t, φ) (w_t = 1 or a data vector),
/// the outer loss at every inner step rather than at the last. The unrolled
/// methods add ∂L_out/∂θ_t into the cotangent (reverse) or pair it with the
/// tangent (forward) at every step, and ∂L_out/∂φ of every step to the sum.
struct TrajectoryObjective {
  /// F(φ): the sum of the per-step outer losses.
  let loss: Double
  /// Σ_t ∂L_out/∂φ at (θ_t, φ).
  let explicit: [Double]
  /// w_t ∂L_out/∂θ at θ_t: [task][t − 1].
  let thetaGradients: [[[Double]]]

  /// θ_1 … θ_T of every task at φ, the tasks in parallel: [task][t − 1].
  static func trajectories(
    _ problem: BilevelProblem, _ phi: [Double], steps T: Int
  ) throws(SolverFault) -> [[[Double]]] {
    try problem.eachTask { t throws(SolverFault) -> [[Double]] in
      var runner = FixedStepRunner(problem, task: t, steps: T)
      var s = runner.start(phi)
      var out: [[Double]] = []
      out.reserveCapacity(T)
      for k in 0..<T {
        try runner.advance(&s, step: k)
        out.append(Array(s.prefix(problem.innerSize)))
      }
      return out
    }
  }

  /// The objective and its partial derivatives along given trajectories.
  init(_ problem: BilevelProblem, _ phi: [Double], trajectories: [[[Double]]]) throws(SolverFault) {
    let T = trajectories.first?.count ?? 0
    var loss = 0.0
    var explicit = [Double](repeating: 0, count: problem.outerSize)
    var gradients = [[[Double]]](repeating: [], count: trajectories.count)
    for k in 0..<T {
      let theta = trajectories.map { $0[k] }
      let w = problem.trajectoryWeight(k)
      let (l, g) = try problem.outerGradientOuter(theta, phi)
      loss += w * l
      for j in explicit.indices { explicit[j] += w * g[j] }
      let inner = try problem.outerGradientsInner(theta, phi)
      for t in inner.indices { gradients[t].append(inner[t].map { w * $0 }) }
    }
    self.loss = loss
    self.explicit = explicit
    thetaGradients = gradients
  }

  /// The objective at φ from scratch: T steps of every task, then the sum.
  init(_ problem: BilevelProblem, _ phi: [Double]) throws(SolverFault) {
    let T = InnerSolver(problem).fixedSteps ?? 0
    try self.init(problem, phi, trajectories: Self.trajectories(problem, phi, steps: T))
  }
}

extension BilevelProblem {
  /// Whether the outer loss is summed over the inner trajectory (eq. 12).
  var overTrajectory: Bool { source.outerTrajectory != nil }

  /// w_t of step t = k + 1.
  func trajectoryWeight(_ k: Int) -> Double { source.outerTrajectoryWeights?.values[k] ?? 1 }

  /// The outer loss, its explicit φ-gradient and each task's ∂L_out/∂θ_T at
  /// the last point: from the trajectory objective when there is one (its
  /// sum and last-step gradients), else the outer gradient plans at θ_T.
  func outerTermsAtLastStep(
    _ theta: [[Double]], _ phi: [Double], objective: TrajectoryObjective?, steps T: Int
  ) throws(SolverFault) -> (loss: Double, explicit: [Double], thetaGradients: [[Double]]) {
    if let objective {
      return (objective.loss, objective.explicit, objective.thetaGradients.map { $0[T - 1] })
    }
    let (loss, explicit) = try outerGradientOuter(theta, phi)
    return (loss, explicit, try outerGradientsInner(theta, phi))
  }
}
