import BilevelCore
import BilevelFrontEnd
import Foundation

/// `evograd(K, sigma: σ, tau: τ, seed: s)` (Bohdal et al. 2020): K perturbed
/// copies θ_k = θ + σ ε_k of the inner solution are weighted by
/// w = softmax(−L_in(θ_k, φ)/τ), and L_out(Σ_k w_k θ_k, φ) is differentiated
/// through the weights only: no second derivatives. The draws ε_k are fixed
/// by the seed, the task and the draw (the outer step, with `draws: fresh`),
/// so each step's proxy is a deterministic function of φ.
struct EvolutionaryProxy {
  let problem: BilevelProblem
  let samples: Int
  let sigma: Double
  let tau: Double
  let seed: Int
  /// Which outer step's draws: 0 throughout unless `draws: fresh`.
  var draw = 0
  /// `draws: E`: E's rows (K × d, row-major) are the draws ε_k, for every task and step.
  var table: [Double]? = nil

  /// θ + σ ε_k, k = 0…K−1, with ε_k drawn from the seeded normal stream
  /// seed·1000003 + (draw·M + task)·K + k (M tasks): the same draws at every φ.
  static func copies(
    of theta: [Double], task t: Int, tasks: Int, samples: Int, sigma: Double, seed: Int, draw: Int,
    table: [Double]? = nil
  ) -> [[Double]] {
    if let table {
      let d = theta.count
      return (0..<samples).map { k in (0..<d).map { theta[$0] + sigma * table[k * d + $0] } }
    }
    return (0..<samples).map { k in
      let stream = UInt64(seed) &* 1_000_003 &+ UInt64((draw * tasks + t) * samples + k)
      let e = RandomStream.normal(shape: Shape([theta.count]), seed: stream).scalars
      return zip(theta, e).map { $0 + sigma * $1 }
    }
  }

  /// One task's proxy at φ: the copies, their weights
  /// softmax(−L_in(θ_k, φ)/τ) and the weighted mean θ̄.
  func proxy(
    _ theta: [Double], _ phi: [Double], task t: Int
  ) throws(SolverFault) -> (copies: [[Double]], weights: [Double], mean: [Double]) {
    let f = problem.innerGradientOuter(t)
    let copies = Self.copies(
      of: theta, task: t, tasks: problem.tasks, samples: samples, sigma: sigma, seed: seed,
      draw: draw, table: table)
    let losses = try copies.map { x throws(SolverFault) -> Double in
      f.load(.theta, x)
      f.load(.phi, phi)
      f.run()
      let l = f.scalar(.loss)
      guard l.isFinite else {
        throw SolverFault.nonFinite(
          "evograd: the inner loss of a perturbed copy is not finite", in: f, problem: problem)
      }
      return l
    }
    let top = losses.map { -$0 / tau }.max()!
    let exps = losses.map { Foundation.exp(-$0 / tau - top) }
    let total = exps.reduce(0, +)
    let w = exps.map { $0 / total }
    var average = [Double](repeating: 0, count: theta.count)
    for k in 0..<samples { for i in average.indices { average[i] += w[k] * copies[k][i] } }
    return (copies, w, average)
  }

  func compute(_ phi: [Double]) throws(SolverFault) -> HypergradientResult {
    let solver = InnerSolver(problem)
    let solution = try solver.solve(phi)
    // Per task: the copies, their softmax weights and the weighted mean θ̄.
    let proxies = try problem.eachTask { t throws(SolverFault) in
      try proxy(solution.theta[t], phi, task: t)
    }
    let mixed = proxies.map(\.mean)
    let (loss, g0) = try problem.outerGradientOuter(mixed, phi)
    let c = try problem.outerGradientsInner(mixed, phi)
    let perTask = try problem.eachTask {
      t throws(SolverFault) -> (part: [Double], residual: Double) in
      var part = problem.accumulator(t, explicit: g0)
      let f = problem.innerGradientOuter(t)
      let (copies, w, _) = proxies[t]
      let scores = copies.map { dot(c[t], $0) }
      let mean = zip(w, scores).reduce(0) { $0 + $1.0 * $1.1 }
      for k in 0..<samples {
        // ∂w_k/∂l_j = −w_k(δ_kj − w_j)/τ, so ∂L/∂l_k = −w_k (score_k − mean)/τ.
        let a = -w[k] * (scores[k] - mean) / tau
        f.load(.theta, copies[k])
        f.load(.phi, phi)
        f.run()
        f.accumulate(.gradient, into: &part, scale: a)
      }
      return (part, try solver.residual(solution.theta[t], phi, task: t))
    }
    var result = HypergradientResult(
      parts: perTask.map(\.part), explicit: g0, outerLoss: loss.isFinite ? loss : .nan,
      theta: mixed,
      innerSteps: solution.steps, innerResidual: perTask.reduce(0) { max($0, $1.residual) },
      linearSolve: nil, forwardSteps: solution.steps, peakStates: samples + 1)
    result.innerSolveSeconds = solution.seconds
    result.finalStates = problem.wholeStates(solution)
    return result
  }
}

extension BilevelProblem {
  /// The data matrix evograd's `draws: E` names, row-major (checked K × d at compile time).
  func drawTable(_ name: String) -> [Double] {
    source.data.first { $0.name == name }!.values[0].scalars
  }
}
