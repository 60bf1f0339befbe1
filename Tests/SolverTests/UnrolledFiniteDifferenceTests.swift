import BilevelFrontEnd
import BilevelSolvers
import TestSupport
import Testing

/// The unrolled methods against central differences of the map each one
/// differentiates, recomputed here step by step with FixedStepRunner (the
/// forward steps only: no derivative code of the engine is involved).
@Suite struct UnrolledFiniteDifferenceTests {
  /// F(φ) = L_out(θ_T(φ), φ), θ_T = T inner steps from θ₀(φ).
  @Test(arguments: UnrolledTestPrograms.cases)
  func unrollMatchesDifferencesOfTheUnrolledMap(_ label: String) throws {
    let problem = try UnrolledTestPrograms.problem(label)
    let phi = UnrolledTestPrograms.point(problem)
    let reference = try SolverChecks.centralDifferences(
      { p in
        SolverChecks.outerLoss(problem, try SolverChecks.unrolledTheta(problem, p), p)
      }, at: phi)
    for method: HypergradientMethod in [
      .unrollReverse(checkpoints: nil), .unrollForward, .unrollReverse(checkpoints: 4),
    ] {
      let g = try problem.hypergradient(method, at: phi).gradient
      let error = SolverChecks.relativeError(g, reference)
      #expect(error <= 1e-6, "\(label) \(method.description): \(g) vs differences \(reference)")
    }
  }

  /// truncated(K): φ ↦ L_out(Φ^K(s_{T−K}; φ), φ) with s_{T−K} (θ and the
  /// optimizer state) held at its value at φ₀; the last K steps see φ.
  @Test(arguments: ["gd", "momentum", "adam", "tasks/momentum"], [1, 5])
  func truncatedMatchesDifferencesOfItsMap(_ label: String, _ K: Int) throws {
    let problem = try UnrolledTestPrograms.problem(label)
    let phi0 = UnrolledTestPrograms.point(problem)
    let T = UnrolledTestPrograms.steps
    var runners = (0..<problem.tasks).map { FixedStepRunner(problem, task: $0, steps: T) }
    let held: [[Double]] = try runners.indices.map { t in
      var s = runners[t].start(phi0)
      for k in 0..<(T - K) { try runners[t].advance(&s, step: k) }
      return s
    }
    func map(_ phi: [Double]) throws -> Double {
      var theta: [[Double]] = []
      for t in runners.indices {
        _ = runners[t].start(phi)  // binds φ for the steps; the state comes from the held one
        var s = held[t]
        for k in (T - K)..<T { try runners[t].advance(&s, step: k) }
        theta.append(Array(s.prefix(problem.innerSize)))
      }
      return SolverChecks.outerLoss(problem, theta, phi)
    }
    let reference = try SolverChecks.centralDifferences(map, at: phi0)
    let result = try problem.hypergradient(.truncated(steps: K), at: phi0)
    #expect(
      SolverChecks.relativeError(result.gradient, reference) <= 1e-6,
      "\(label) K=\(K): \(result.gradient) vs \(reference)")
    // Its value is the full unroll's: only the derivative is truncated.
    let value = try map(phi0)
    #expect(abs(result.outerLoss - value) <= 1e-14 * abs(value))
    // With K < T the start θ₀ = w0 is held, so w0 acts only through the explicit term: not the full unroll.
    let full = try problem.hypergradient(.unrollReverse(checkpoints: nil), at: phi0)
    #expect(SolverChecks.relativeError(result.gradient, full.gradient) > 1e-4)
  }

  /// first_order: φ ↦ L_out(θ_T(φ₀) + θ₀(φ) − θ₀(φ₀), φ).
  @Test(arguments: ["gd", "adam", "tasks/gd"])
  func firstOrderMatchesDifferencesOfItsMap(_ label: String) throws {
    let problem = try UnrolledTestPrograms.problem(label)
    let phi0 = UnrolledTestPrograms.point(problem)
    let theta0 = try SolverChecks.unrolledTheta(problem, phi0)
    let start0 = (0..<problem.tasks).map { problem.initial($0)([.phi: phi0])[.theta] }
    func map(_ phi: [Double]) -> Double {
      let theta = (0..<problem.tasks).map { t in
        let start = problem.initial(t)([.phi: phi])[.theta]
        return (0..<problem.innerSize).map { theta0[t][$0] + start[$0] - start0[t][$0] }
      }
      return SolverChecks.outerLoss(problem, theta, phi)
    }
    let reference = try SolverChecks.centralDifferences(map, at: phi0)
    let result = try problem.hypergradient(.firstOrder, at: phi0)
    #expect(
      SolverChecks.relativeError(result.gradient, reference) <= 1e-6,
      "\(label): \(result.gradient) vs \(reference)")
    // The learning rate only acts through dθ/dφ, which first_order drops.
    #expect(result.gradient[0] == 0)
    #expect(result.gradient.dropFirst().contains { $0 != 0 })
  }

  /// finite_difference(eps) approximates truncated(1) (the last gd step), with an O(ε²) error.
  @Test(arguments: ["gd", "tasks/gd"])
  func finiteDifferenceApproximatesTruncatedOne(_ label: String) throws {
    let problem = try UnrolledTestPrograms.problem(label)
    let phi = UnrolledTestPrograms.point(problem)
    let truncated = try problem.hypergradient(.truncated(steps: 1), at: phi).gradient
    // ∇φ L_in is quadratic in θ here (exp(logwd)·‖w‖² and the lr), so even a coarse ε is near exact.
    for eps in [1e-2, 1e-4] {
      let g = try problem.hypergradient(.finiteDifference(eps: eps), at: phi).gradient
      #expect(SolverChecks.relativeError(g, truncated) <= 1e-6, "eps \(eps): \(g) vs \(truncated)")
    }
  }
}
