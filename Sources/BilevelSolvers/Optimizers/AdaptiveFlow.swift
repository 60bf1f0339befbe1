import BilevelCore
import BilevelFrontEnd
import Foundation

/// `flow(method: dopri5)`: the gradient flow θ' = −∇θ L_in integrated to the
/// horizon by Dormand–Prince 5(4) (Hairer, Nørsett & Wanner, II.4 and II.5):
/// the 5th-order solution is kept, the embedded 4th-order one estimates the
/// error, and a step is accepted when the RMS of err_i / (atol + rtol·
/// max(|θ_i|, |θ'_i|)) is at most 1; the next step is h·clamp(0.9·err^(−1/5),
/// 0.2, 10), never growing right after a rejection. The accepted steps are
/// recorded: the hypergradients differentiate that grid (step lengths held,
/// except the last, horizon − t, which moves with the horizon).
struct AdaptiveFlow {
  let problem: BilevelProblem
  let task: Int
  let tolerances: AdaptiveTolerances
  let gradient: Compiled<InnerGradient>

  init(_ problem: BilevelProblem, task: Int, tolerances: AdaptiveTolerances) {
    self.problem = problem
    self.task = task
    self.tolerances = tolerances
    gradient = problem.innerGradient(task)
  }

  /// θ(H) and the accepted step lengths, which sum to H (the last is H − t).
  struct Solution {
    var theta: [Double]
    var steps: [Double]
  }

  /// The field −∇θ L_in at θ.
  func field(_ theta: [Double]) throws(SolverFault) -> [Double] {
    gradient.load(.theta, theta)
    gradient.run()
    let g = gradient.result(.gradient)
    guard allFinite(g) else {
      throw SolverFault.nonFinite(
        "the flow's field (\(problem.taskLabel(task))inner gradient) is not finite",
        in: gradient, problem: problem)
    }
    return g.map { -$0 }
  }

  /// The stages k_1…k_7 of one step of length h from y (k_1 = f(y) given);
  /// k_7 = f(y') is the next step's k_1 (first same as last).
  /// The points are where each stage evaluates the field (the first is y).
  func stages(
    _ y: [Double], _ f0: [Double], _ h: Double
  ) throws(SolverFault) -> (k: [[Double]], points: [[Double]]) {
    var k = [f0]
    var points = [y]
    for i in 1..<DormandPrince.stages {
      var point = y
      for j in 0..<i where DormandPrince.a[i][j] != 0 {
        let c = h * DormandPrince.a[i][j]
        for e in point.indices { point[e] += c * k[j][e] }
      }
      k.append(try field(point))
      points.append(point)
    }
    return (k, points)
  }

  /// y + h Σ b_i k_i: the 5th-order solution (b₇ = 0, so k₇ is not read).
  static func advance(_ y: [Double], _ k: [[Double]], _ h: Double) -> [Double] {
    var next = y
    for i in 0..<6 where DormandPrince.b[i] != 0 {
      let c = h * DormandPrince.b[i]
      for e in next.indices { next[e] += c * k[i][e] }
    }
    return next
  }

  func rmsNorm(_ v: [Double], scale: [Double]) -> Double {
    var s = 0.0
    for i in v.indices { s += (v[i] / scale[i]) * (v[i] / scale[i]) }
    return (s / Double(max(1, v.count))).squareRoot()
  }

  /// The first step from the local Lipschitz estimate (Hairer's starting
  /// step, II.4): independent of the horizon except for being clipped to it.
  func initialStep(_ y: [Double], _ f0: [Double], horizon: Double) throws(SolverFault) -> Double {
    let scale = y.map { tolerances.absolute + tolerances.relative * abs($0) }
    let d0 = rmsNorm(y, scale: scale)
    let d1 = rmsNorm(f0, scale: scale)
    let h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1
    let y1 = zip(y, f0).map { $0 + h0 * $1 }
    let f1 = try field(y1)
    let d2 = rmsNorm(zip(f1, f0).map { $0 - $1 }, scale: scale) / h0
    let h1 = max(d1, d2) <= 1e-15 ? max(1e-6, h0 * 1e-3) : pow(0.01 / max(d1, d2), 0.2)
    return min(100 * h0, h1, horizon)
  }

  /// Integrates from θ₀ to the horizon, recording the accepted steps.
  func solve(from theta0: [Double], horizon: Double) throws(SolverFault) -> Solution {
    var y = theta0
    var f = try field(y)
    var t = 0.0
    var h = try initialStep(y, f, horizon: horizon)
    var accepted: [Double] = []
    var rejectedLast = false
    while t < horizon {
      guard accepted.count < tolerances.maxSteps else {
        throw SolverFault(
          .stepLimit,
          "the adaptive flow (\(problem.taskLabel(task))dopri5) took max_steps = \(tolerances.maxSteps) accepted steps and reached only t = \(formatValue(t)) of the horizon \(formatValue(horizon)); raise max_steps or loosen rtol/atol",
          origin: problem.source.innerSolver?.range)
      }
      let last = t + h >= horizon * (1 - 1e-12)
      if last { h = horizon - t }
      guard h > 1e-14 * horizon else {
        throw SolverFault(
          .nonFinite,
          "the adaptive flow's step (\(problem.taskLabel(task))dopri5) fell to \(formatValue(h)) at t = \(formatValue(t)); the flow is too stiff for rtol/atol",
          origin: problem.source.innerSolver?.range)
      }
      let k = try stages(y, f, h).k
      let next = Self.advance(y, k, h)
      var error = [Double](repeating: 0, count: y.count)
      for i in 0..<DormandPrince.stages where DormandPrince.e[i] != 0 {
        for j in error.indices { error[j] += h * DormandPrince.e[i] * k[i][j] }
      }
      let scale = (0..<y.count).map {
        tolerances.absolute + tolerances.relative * max(abs(y[$0]), abs(next[$0]))
      }
      let err = rmsNorm(error, scale: scale)
      guard err.isFinite, allFinite(next) else {
        throw SolverFault(
          .nonFinite,
          "the adaptive flow (\(problem.taskLabel(task))dopri5) produced a non-finite value at t = \(formatValue(t))",
          origin: problem.source.innerSolver?.range)
      }
      let grow = err == 0 ? 10 : min(10, max(0.2, 0.9 * pow(err, -0.2)))
      if err <= 1 {
        t = last ? horizon : t + h
        accepted.append(h)
        y = next
        f = k[DormandPrince.stages - 1]
        h *= rejectedLast ? min(1, grow) : grow
        rejectedLast = false
      } else {
        h *= grow
        rejectedLast = true
      }
    }
    return Solution(theta: y, steps: accepted)
  }
}

/// The Dormand–Prince 5(4) tableau: a (strictly lower), the 5th-order
/// weights b, and e = b − b̂ (b̂ the embedded 4th-order weights).
enum DormandPrince {
  static let stages = 7
  static let a: [[Double]] = [
    row([]),
    row([1.0 / 5]),
    row([3.0 / 40, 9.0 / 40]),
    row([44.0 / 45, -56.0 / 15, 32.0 / 9]),
    row([19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729]),
    row([9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656]),
    row([35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84]),
  ]
  /// A row of a, zero-padded to the seven stages.
  static func row(_ r: [Double]) -> [Double] { r + [Double](repeating: 0, count: 7 - r.count) }
  static let b: [Double] = [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0]
  static let bHat: [Double] = [
    5179.0 / 57600, 0, 7571.0 / 16695, 393.0 / 640, -92097.0 / 339200, 187.0 / 2100, 1.0 / 40,
  ]
  static let e: [Double] = zip(b, bHat).map { $0 - $1 }
}

extension BilevelProblem {
  /// The tolerances of `flow(method: dopri5)`; nil for any other inner solver.
  var adaptiveFlow: AdaptiveTolerances? {
    if case .flow(_, _, let a?)? = source.innerSolver?.spec { return a }
    return nil
  }

  /// Task t's adaptive flow at φ from θ₀(φ), with the accepted steps.
  func solveAdaptiveFlow(
    _ phi: [Double], task t: Int, tolerances: AdaptiveTolerances
  ) throws(SolverFault) -> AdaptiveFlow.Solution {
    try checkStepSettings(phi, task: t)
    let horizon = learningRate([.phi: phi])[.rate][0]
    let flow = AdaptiveFlow(self, task: t, tolerances: tolerances)
    flow.gradient.load(.phi, phi)
    return try flow.solve(from: Array(startState(t, phi).prefix(innerSize)), horizon: horizon)
  }

  public func gradientTangent(_ t: Int) -> Compiled<GradientTangent> {
    build(functions[t], \.gradientTangent) {
      Compiled(
        program, constants: constants, task: planTask(t),
        arguments: {
          switch $0 {
          case .theta: theta(t)
          case .phi: phi
          case .direction: leaves(graphs.direction, task: t)
          case .outerTangent: leaves(graphs.outerTangent, task: t)
          }
        },
        results: {
          switch $0 {
          case .product: graphs.gradientTangent
          }
        })
    }
  }

}
