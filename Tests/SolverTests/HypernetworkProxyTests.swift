import BilevelCore
import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

@testable import BilevelSolvers

/// The hypernetwork proxy (survey §4.2, eq. 33) on RidgeModel's data with a
/// prior mean μ: L_in = ½ mean((X w − y)²) + ½ λ ‖w − μ‖², λ fixed, so
/// θ*(μ) = (A + λI)⁻¹ (c + λ μ) is affine in μ and the proxy A μ + b can be
/// exact. The reference is the formula written in plain Swift:
/// dL_out/dμ = ∂L_out/∂μ + λ (A + λI)⁻¹ ∂L_out/∂w at θ*(μ).
@Suite struct HypernetworkProxyTests {
  static let model = RidgeModel()
  static let lambda = 0.7
  static let mu0: [Double] = [0.4, -0.3, 0.2, 0.1]

  static func text(proxy: String, method: String) -> String {
    let m = model
    return """
      dim n = \(RidgeModel.n), nv = \(RidgeModel.nv), d = \(RidgeModel.d)
      data X = \(SolverFixtures.literal(rows: m.X))
      data y = \(SolverFixtures.literal(m.y))
      data Xv = \(SolverFixtures.literal(rows: m.Xv))
      data yv = \(SolverFixtures.literal(m.yv))
      outer mu: vector[d] = \(SolverFixtures.literal(mu0))
      inner w: vector[d] = 0
      inner loss = 0.5 * mean((X @ w - y)^2) + 0.5 * \(lambda) * sum((w - mu)^2)
      outer loss = 0.5 * mean((Xv @ w - yv)^2) + 0.05 * sum((mu - 0.3)^2)
      \(proxy)
      solve inner with newton
      hypergradient with \(method)
      solve outer with gd(lr: 0.1, steps: 3)
      """
  }

  static let linear = "proxy w = P @ mu + b with params P: matrix[d, d] = 0, b: vector[d] = 0"
  /// Not affine in μ: no α makes it the best response.
  static let network =
    "proxy w = P @ tanh(mu) + b with params P: matrix[d, d] = 0.5 * eye(d), b: vector[d] = 0"

  /// The hypergradient of L_out(θ*(μ), μ) by the formula.
  static func exactGradient(_ mu: [Double]) -> [Double] {
    let m = model
    let h = PlainAlgebra.add(m.A, PlainAlgebra.identity(RidgeModel.d), scale: lambda)
    let theta = PlainAlgebra.solve(h, zip(m.c, mu).map { $0 + lambda * $1 })
    let adjoint = PlainAlgebra.solve(h, m.outerGradientTheta(theta))
    return (0..<RidgeModel.d).map { 0.1 * (mu[$0] - 0.3) + lambda * adjoint[$0] }
  }

  @Test(arguments: ["global", "local", "linearized"])
  func anExactProxyGivesTheExactHypergradient(mode: String) throws {
    let method = "proxy(\(mode), samples: 8, sigma: 1, steps: 4000, lr: 0.1)"
    let problem = try SolverFixtures.problem(Self.text(proxy: Self.linear, method: method))
    let own = MethodSelection(problem).method
    let result = try problem.hypergradient(own, at: Self.mu0)
    let exact = Self.exactGradient(Self.mu0)
    #expect(
      SolverChecks.relativeError(result.gradient, exact) <= 1e-9, "\(result.gradient) vs \(exact)")
    // The fit says so: the inner gradient vanishes at P_α(φ), which is the solved θ.
    let fit = try #require(result.proxy)
    #expect(fit.innerGradientNorm <= 1e-9 && fit.distanceToSolution <= 1e-9, "\(fit)")
    #expect(fit.parameters.count == RidgeModel.d * RidgeModel.d + RidgeModel.d)
    let reference = try problem.hypergradient(.implicitExact, at: Self.mu0)
    #expect(SolverChecks.relativeError(result.gradient, reference.gradient) <= 1e-9)
  }

  /// `check` holds α trained at φ₀ and differentiates L_out(P_α(φ), φ): every
  /// variant passes against central differences of that map and reports its
  /// bias against implicit(exact) instead of failing.
  @Test func checkReportsEachProxysBiasAgainstTheExactHypergradient() throws {
    let method = "proxy(local, samples: 6, sigma: 0.5, steps: 300, refit: 5, lr: 0.1)"
    let problem = try SolverFixtures.problem(Self.text(proxy: Self.network, method: method))
    let own = MethodSelection(problem).method
    let report = HypergradientCheck(problem: problem, programMethod: own).run()
    let rows = report.rows.filter { $0.method.kind == .proxy }
    #expect(rows.map(\.method.title) == ["proxy(global)", "proxy(local)", "proxy(linearized)"])
    for row in rows {
      #expect(row.failure == nil, "\(row.label): \(row.failure ?? "")")
      #expect((row.differencesError ?? 1) <= 1e-6, "\(row.label)")
      guard case .error(let bias) = row.reference else {
        Issue.record("\(row.label): no bias against implicit(exact)")
        continue
      }
      #expect(bias > 1e-6 && row.referenceName == "implicit(exact)", "\(row.label): \(bias)")
      #expect(row.capped?.contains("against implicit(exact)") == true, "\(row.capped ?? "")")
    }
  }

  /// For a proxy affine in φ the first-order expansion is the proxy itself,
  /// so linearized trains as local does; for a nonlinear one it does not.
  @Test func linearizedDiffersFromLocalOnlyForANonlinearProxy() throws {
    for (proxy, same) in [(Self.linear, true), (Self.network, false)] {
      var alphas: [[Double]] = []
      for mode in ["local", "linearized"] {
        let method = "proxy(\(mode), samples: 6, sigma: 0.5, steps: 50, lr: 0.1)"
        let problem = try SolverFixtures.problem(Self.text(proxy: proxy, method: method))
        let result = try problem.hypergradient(MethodSelection(problem).method, at: Self.mu0)
        alphas.append(try #require(result.proxy).parameters)
      }
      let gap = SolverChecks.relativeError(alphas[1], alphas[0])
      #expect(same ? gap <= 1e-12 : gap > 1e-6, "\(proxy): \(gap)")
    }
  }

  /// Later outer steps continue from the previous α: a global proxy holds
  /// it, a local one refits it for `refit` steps on the step's own draws.
  @Test func laterOuterStepsHoldOrRefitTheTrainedParameters() throws {
    for mode in ["global", "local"] {
      let method =
        "proxy(\(mode), samples: 6, sigma: 0.5, steps: 100, lr: 0.1\(mode == "local" ? ", refit: 7" : ""))"
      let problem = try SolverFixtures.problem(Self.text(proxy: Self.network, method: method))
      let own = MethodSelection(problem).method
      let first = try problem.hypergradient(own, at: Self.mu0)
      let moved = Self.mu0.map { $0 + 0.05 }
      let next = try problem.hypergradient(own, at: moved, outerStep: 1, previous: first)
      let (a, b) = (try #require(first.proxy), try #require(next.proxy))
      #expect(a.trainingSteps == 100)
      if mode == "global" {
        #expect(b.trainingSteps == 0 && b.parameters == a.parameters)
      } else {
        #expect(b.trainingSteps == 7 && b.parameters != a.parameters)
      }
      // The run threads the previous step's result through.
      let run = BilevelRun(problem: problem, method: own).run()
      #expect(run.fault == nil && run.stepsDone == 3)
      #expect(run.final?.proxy?.trainingSteps == (mode == "global" ? 0 : 7))
    }
  }
}

/// EvoGrad's draws given as data: `draws: E` with E's rows the documented
/// fixed draws (the normal streams seed·1000003 + k) gives the same bits
/// as `draws: fixed`.
@Suite struct EvoGradDrawsDataTests {
  @Test func drawsFromDataReproduceTheFixedDraws() throws {
    let model = RidgeModel()
    let (samples, seed) = (5, 3)
    let rows = (0..<samples).map { k in
      RandomStream.normal(
        shape: Shape([RidgeModel.d]), seed: UInt64(seed) &* 1_000_003 &+ UInt64(k)
      ).scalars
    }
    let base = model.text(steps: 30)
    let settings = "evograd(\(samples), sigma: 0.2, tau: 0.1, seed: \(seed)"
    let fixed = base.replacingOccurrences(
      of: "hypergradient with unroll(reverse)", with: "hypergradient with \(settings))")
    let data =
      "data E = \(SolverFixtures.literal(rows: rows))\n"
      + base.replacingOccurrences(
        of: "hypergradient with unroll(reverse)",
        with: "hypergradient with \(settings), draws: E)")
    var results: [HypergradientResult] = []
    for text in [fixed, data] {
      let problem = try SolverFixtures.problem(text)
      results.append(try problem.hypergradient(MethodSelection(problem).method, at: model.phi0))
    }
    #expect(results[0].gradient == results[1].gradient)
    #expect(results[0].theta == results[1].theta)
    // A different table moves the proxy.
    let shifted = data.replacingOccurrences(
      of: "data E = \(SolverFixtures.literal(rows: rows))",
      with: "data E = \(SolverFixtures.literal(rows: rows.map { $0.map { -$0 } }))")
    let problem = try SolverFixtures.problem(shifted)
    let other = try problem.hypergradient(MethodSelection(problem).method, at: model.phi0)
    #expect(other.theta != results[0].theta)
  }
}
