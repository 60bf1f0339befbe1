import BilevelCore
import BilevelFrontEnd

/// How well a trained proxy stands in for the inner solution at φ: reported
/// beside its hypergradient, since the hypergradient is only as good as the fit.
public struct ProxyFit: Sendable {
  /// α after training.
  public var parameters: [Double]
  /// ‖∇θ L_in(P_α(φ), φ)‖.
  public var innerGradientNorm: Double
  /// ‖P_α(φ) − θ(φ)‖, θ(φ) the program's inner solver's solution.
  public var distanceToSolution: Double
  /// Entries of α; gradient steps on it at this outer step, and the training loss after them.
  public var trainingSteps: Int
  public var trainingLoss: Double
}

/// `proxy(global|local|linearized, ...)` (survey §4.2, eq. 33): θ ≈ P_α(φ),
/// α trained by gradient descent on the mean over draws δ_k of
/// L_in(P̃_k, φ + δ_k), where P̃_k = P_α(φ + δ_k) (global: Lorraine &
/// Duvenaud 2018; local / self-tuning: MacKay et al. 2019) or
/// P_α(φ) + (∂P_α/∂φ) δ_k (linearized: Bae & Grosse 2020). The hypergradient
/// is d/dφ L_out(P_α(φ), φ) with α held: ∂L_out/∂φ + (∂P_α/∂φ)ᵀ ∂L_out/∂θ.
/// At the first outer step α is trained from its declaration; afterwards a
/// global proxy is held and a local or linearized one refit from the last α
/// on new draws, alternating with the outer steps.
struct HypernetworkProxy {
  let problem: BilevelProblem
  let settings: ProxySettings

  /// The draws δ_k of outer step `draw`, k = 0…K−1: σ·N(0, I), or
  /// σ·U(−1, 1) per entry, from the stream seed·1000003 + draw·K + k.
  func shifts(draw: Int) -> [[Double]] {
    let shape = Shape([problem.outerSize])
    let s = settings
    return (0..<s.samples).map { k in
      let stream = UInt64(s.seed) &* 1_000_003 &+ UInt64(draw * s.samples + k)
      if s.uniform {
        return RandomStream.uniform(shape: shape, seed: stream).scalars.map {
          s.sigma * (2 * $0 - 1)
        }
      }
      return RandomStream.normal(shape: shape, seed: stream).scalars.map { s.sigma * $0 }
    }
  }

  /// `steps` gradient steps on the mean training loss over draw `draw`'s
  /// perturbations, from `start`; the loss is that of the returned α.
  func train(
    _ start: [Double], at phi: [Double], steps: Int, draw: Int
  ) throws(SolverFault) -> (parameters: [Double], loss: Double) {
    let f = problem.proxyTraining(linearized: settings.mode == .linearized)
    let draws = shifts(draw: draw)
    let scale = 1 / Double(draws.count)
    var alpha = start
    var gradient = [Double](repeating: 0, count: alpha.count)
    var loss = 0.0
    var first = 0.0
    for step in 0...steps {
      for i in gradient.indices { gradient[i] = 0 }
      loss = 0
      for delta in draws {
        f.load(.parameters, alpha)
        f.load(.phi, phi)
        f.load(.shift, delta)
        f.run()
        loss += scale * f.scalar(.loss)
        f.accumulate(.gradient, into: &gradient, scale: scale)
      }
      guard loss.isFinite, allFinite(gradient) else {
        throw SolverFault.nonFinite(
          "proxy training step \(step): the inner loss at the proxy is not finite (lower the proxy's lr)",
          in: f, problem: problem)
      }
      if step == 0 { first = loss }
      // Gradient descent on α that grows the loss by orders of magnitude diverges: say so at the proxy.
      if loss > 1e6 * max(abs(first), 1) {
        throw SolverFault(
          .diverged, at: "proxy training step \(step)",
          "the training loss grew from \(formatValue(first)) to \(formatValue(loss)): gradient descent on α diverges (lower the proxy's lr)",
          origin: problem.source.proxies.first?.range)
      }
      if step == steps { break }
      for i in alpha.indices { alpha[i] -= settings.lr * gradient[i] }
    }
    return (alpha, loss)
  }

  /// P_α(φ).
  func theta(_ alpha: [Double], _ phi: [Double]) -> [Double] {
    let f = problem.proxyMap
    f.load(.parameters, alpha)
    f.load(.phi, phi)
    f.run()
    return f.result(.theta)
  }

  /// Trains α from `start` (`steps` steps on draw `draw`) and differentiates
  /// L_out through P_α at φ; the fit against the program's inner solver.
  func compute(
    _ phi: [Double], from start: [Double], steps: Int, draw: Int
  ) throws(SolverFault) -> HypergradientResult {
    let (alpha, trainingLoss) = try train(start, at: phi, steps: steps, draw: draw)
    let g = problem.proxyOuterGradient
    g.load(.parameters, alpha)
    g.load(.phi, phi)
    g.run()
    let loss = g.scalar(.loss)
    let gradient = g.result(.gradient)
    guard allFinite(gradient) else {
      throw SolverFault.nonFinite(
        "the outer loss's gradient through the proxy is not finite", in: g, problem: problem)
    }
    let theta = theta(alpha, phi)
    let solver = InnerSolver(problem)
    let residual = try solver.residual(theta, phi, task: 0)
    let solution = try solver.solve(phi)
    let distance = norm(zip(theta, solution.theta[0]).map { $0 - $1 })
    var result = HypergradientResult(
      gradient: gradient, outerLoss: loss.isFinite ? loss : .nan, theta: [theta],
      innerSteps: solution.steps, innerResidual: solution.residual, linearSolve: nil,
      forwardSteps: 0,
      peakStates: 1)
    result.innerSolveSeconds = solution.seconds
    result.proxy = ProxyFit(
      parameters: alpha, innerGradientNorm: residual, distanceToSolution: distance,
      trainingSteps: steps, trainingLoss: trainingLoss)
    return result
  }

  /// α trained at φ₀ as the first outer step trains it: what `check` holds.
  func trainedAtStart(_ phi0: [Double]) throws(SolverFault) -> [Double] {
    try train(problem.initialProxyParameters(), at: phi0, steps: settings.steps, draw: 0).parameters
  }
}
