import BilevelCore
import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

@testable import BilevelSolvers

/// The `flow` inner solver and the `adjoint` method on RidgeModel's ridge
/// loss, against the analytic flow w(H) = w* + exp(−(A + λI) H)(w₀ − w*)
/// written in plain Swift (a Taylor exponential with scaling and squaring).
/// φ = (logH, loglam, w0): RidgeModel's first outer variable is the log
/// horizon here.
@Suite struct GradientFlowTests {
  static let model = RidgeModel()
  static let phi0: [Double] = [0.3, -0.5, 0.4, -0.3, 0.2, 0.1]

  static func text(steps: Int, method: String) -> String {
    let m = model
    return """
      dim n = \(RidgeModel.n), nv = \(RidgeModel.nv), d = \(RidgeModel.d)
      data X = \(SolverFixtures.literal(rows: m.X))
      data y = \(SolverFixtures.literal(m.y))
      data Xv = \(SolverFixtures.literal(rows: m.Xv))
      data yv = \(SolverFixtures.literal(m.yv))
      outer logH: scalar = \(phi0[0])
      outer loglam: scalar = \(phi0[1])
      outer w0: vector[d] = \(SolverFixtures.literal(Array(phi0[2...])))
      inner w: vector[d] = w0
      inner loss = 0.5 * mean((X @ w - y)^2) + 0.5 * exp(loglam) * sum(w^2)
      outer loss = 0.5 * mean((Xv @ w - yv)^2) + 0.05 * sum((w0 - 0.3)^2)
      solve inner with flow(horizon: exp(logH), steps: \(steps))
      hypergradient with \(method)
      solve outer with gd(lr: 0.1, steps: 1)
      """
  }

  /// exp(M) for a small matrix: Taylor to 30 terms of M / 2^s, squared s times.
  static func exponential(_ m: [[Double]]) -> [[Double]] {
    let scale = m.flatMap { $0 }.reduce(0) { max($0, abs($1)) } * Double(m.count)
    let s = max(0, Int(log2(max(scale, 1)).rounded(.up)) + 4)
    let a = m.map { $0.map { $0 / pow(2, Double(s)) } }
    var term = PlainAlgebra.identity(m.count)
    var sum = term
    for k in 1...30 {
      term = PlainAlgebra.multiply(term, a).map { $0.map { $0 / Double(k) } }
      sum = PlainAlgebra.add(sum, term)
    }
    for _ in 0..<s { sum = PlainAlgebra.multiply(sum, sum) }
    return sum
  }

  /// The analytic flow at the horizon exp(φ₀).
  static func analytic(_ phi: [Double]) -> [Double] {
    let m = model
    let d = RidgeModel.d
    let hessian = PlainAlgebra.add(m.A, PlainAlgebra.identity(d), scale: m.lambda(phi))
    let star = m.solution(phi)
    let decay = exponential(hessian.map { $0.map { -exp(phi[0]) * $0 } })
    let offset = zip(m.start(phi), star).map { $0 - $1 }
    return zip(star, PlainAlgebra.multiply(decay, offset)).map { $0 + $1 }
  }

  @Test func rk4MatchesTheAnalyticFlowToFourthOrder() throws {
    let exact = Self.analytic(Self.phi0)
    var errors: [Double] = []
    for steps in [10, 20, 40] {
      let problem = try SolverFixtures.problem(Self.text(steps: steps, method: "adjoint"))
      let theta = try InnerSolver(problem).solve(Self.phi0).theta[0]
      errors.append(SolverChecks.relativeError(theta, exact))
    }
    // Global error O(dt⁴): halving dt divides it by about 16.
    #expect(errors[2] <= 1e-7, "\(errors)")
    for k in 0..<2 {
      #expect(errors[k] / errors[k + 1] > 12 && errors[k] / errors[k + 1] < 20, "\(errors)")
    }
  }

  @Test func adjointForwardAndDifferencesAgreeHorizonIncluded() throws {
    let model = Self.model
    let phi = Self.phi0
    let problem = try SolverFixtures.problem(Self.text(steps: 160, method: "adjoint"))
    let adjoint = try problem.hypergradient(.adjoint, at: phi).gradient
    let forward = try problem.hypergradient(.unrollForward, at: phi).gradient
    let reverse = try problem.hypergradient(.unrollReverse(checkpoints: nil), at: phi).gradient
    // The discrete map's two modes agree to rounding.
    #expect(SolverChecks.relativeError(forward, reverse) <= 1e-12, "\(forward) vs \(reverse)")
    let unrolledDifferences = try SolverChecks.centralDifferences(
      { p in
        SolverChecks.outerLoss(problem, try SolverChecks.unrolledTheta(problem, p), p)
      }, at: phi)
    #expect(
      SolverChecks.relativeError(forward, unrolledDifferences) <= 1e-8,
      "\(forward) vs \(unrolledDifferences)")
    // The adjoint differentiates the exact flow: against the analytic map's
    // differences, to RK4's O(dt⁴) (dt = 1.35/160).
    let analyticDifferences = try SolverChecks.centralDifferences(
      { p in model.outerLoss(Self.analytic(p), p) }, at: phi)
    #expect(
      SolverChecks.relativeError(adjoint, analyticDifferences) <= 1e-8,
      "\(adjoint) vs \(analyticDifferences)")
    #expect(SolverChecks.relativeError(adjoint, forward) <= 1e-7, "\(adjoint) vs \(forward)")
    // The horizon's derivative in closed form: H ⟨∂L_out/∂w, −∇L_in⟩ at w(H).
    let w = Self.analytic(phi)
    let horizon = -exp(phi[0]) * Dense.dot(model.outerGradientTheta(w), model.innerGradient(w, phi))
    #expect(abs(horizon) > 1e-3, "the sample's horizon matters: \(horizon)")
    #expect(abs(adjoint[0] - horizon) <= 1e-7 * abs(horizon), "\(adjoint[0]) vs \(horizon)")
    #expect(abs(forward[0] - horizon) <= 1e-7 * abs(horizon), "\(forward[0]) vs \(horizon)")
  }

  @Test func adjointIsOnlyForAFlow() throws {
    let gd = try SolverFixtures.problem(Self.model.text(steps: 4))
    let reason = HypergradientMethod.adjoint.record.inapplicable(ProblemSizes(gd.source))
    #expect(reason?.contains("gradient flow") == true, "\(reason ?? "nil")")
    let flow = try SolverFixtures.problem(Self.text(steps: 4, method: "adjoint"))
    #expect(HypergradientMethod.adjoint.record.inapplicable(ProblemSizes(flow.source)) == nil)
  }
}
