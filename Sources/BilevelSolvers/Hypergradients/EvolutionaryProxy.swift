import BilevelCore
import Foundation

/// `evograd(K, sigma: σ, tau: τ, seed: s)` (Bohdal et al. 2020): K perturbed
/// copies θ_k = θ + σ ε_k of the inner solution are weighted by
/// w = softmax(−L_in(θ_k, φ)/τ), and L_out(Σ_k w_k θ_k, φ) is differentiated
/// through the weights only: no second derivatives. The draws ε_k are fixed
/// by the seed (and the task), so the proxy is a deterministic function of φ.
struct EvolutionaryProxy {
  let problem: BilevelProblem
  let samples: Int
  let sigma: Double
  let tau: Double
  let seed: Int

  /// θ + σ ε_k, k = 1…K, with ε_k drawn from the seeded normal stream
  /// seed·1000003 + task·K + k: the same draws at every φ.
  static func copies(of theta: [Double], task t: Int, samples: Int, sigma: Double, seed: Int) -> [[Double]] {
    (0..<samples).map { k in
      let e = RandomStream.normal(shape: Shape([theta.count]), seed: UInt64(seed) &* 1_000_003 &+ UInt64(t * samples + k)).scalars
      return zip(theta, e).map { $0 + sigma * $1 }
    }
  }

  func compute(_ phi: [Double]) throws(SolverFault) -> HypergradientResult {
    let solver = InnerSolver(problem)
    let solution = try solver.solve(phi)
    var perturbed: [[[Double]]] = []
    var weights: [[Double]] = []
    var mixed: [[Double]] = []
    for t in 0..<problem.tasks {
      let f = problem.innerGradientOuter(t)
      let copies = Self.copies(of: solution.theta[t], task: t, samples: samples, sigma: sigma, seed: seed)
      let losses = try copies.map { x throws(SolverFault) -> Double in
        f.load(0, x)
        f.load(1, phi)
        f.run()
        let l = f.scalar(1)
        guard l.isFinite else { throw SolverFault.nonFinite("evograd: the inner loss of a perturbed copy is not finite", in: f, problem: problem) }
        return l
      }
      let top = losses.map { -$0 / tau }.max()!
      let exps = losses.map { (-$0 / tau - top).exp }
      let total = exps.reduce(0, +)
      let w = exps.map { $0 / total }
      var average = [Double](repeating: 0, count: problem.innerSize)
      for k in 0..<samples { for i in average.indices { average[i] += w[k] * copies[k][i] } }
      perturbed.append(copies)
      weights.append(w)
      mixed.append(average)
    }
    var (loss, g) = try problem.outerGradientOuter(mixed, phi)
    let c = try problem.outerGradientsInner(mixed, phi)
    for t in 0..<problem.tasks {
      let f = problem.innerGradientOuter(t)
      let w = weights[t]
      let scores = perturbed[t].map { dot(c[t], $0) }
      let mean = zip(w, scores).reduce(0) { $0 + $1.0 * $1.1 }
      for k in 0..<samples {
        // ∂w_k/∂l_j = −w_k(δ_kj − w_j)/τ, so ∂L/∂l_k = −w_k (score_k − mean)/τ.
        let a = -w[k] * (scores[k] - mean) / tau
        f.load(0, perturbed[t][k])
        f.load(1, phi)
        f.run()
        f.accumulate(0, into: &g, scale: a)
      }
    }
    var residual = 0.0
    for t in 0..<problem.tasks { residual = max(residual, try solver.residual(solution.theta[t], phi, task: t)) }
    loss = loss.isFinite ? loss : .nan
    return HypergradientResult(gradient: g, outerLoss: loss, theta: mixed, innerSteps: solution.steps, innerResidual: residual,
                               linearSolve: nil, forwardSteps: solution.steps, peakStates: samples + 1)
  }
}

extension Double {
  var exp: Double { Foundation.exp(self) }
}
