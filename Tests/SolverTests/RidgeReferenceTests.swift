import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation
import TestSupport
import Testing

/// Every method on ridge regression against maps and derivatives written by
/// hand in RidgeModel (plain Swift arrays; no engine code in the reference).
@Suite struct RidgeReferenceTests {
  static let model = RidgeModel()
  /// Few steps at a small lr (exp(−2.5)), so θ_T still depends on θ₀ = w0 and on the lr.
  static let T = 8
  /// Enough steps for the implicit methods' θ to be θ* to rounding.
  static let converged = 2000

  static func problem(steps: Int = T) throws -> BilevelProblem {
    let problem = try SolverFixtures.problem(model.text(steps: steps))
    #expect(problem.initialOuter() == model.phi0)
    return problem
  }

  @Test func engineStepsMatchTheHandWrittenSteps() throws {
    let problem = try Self.problem()
    let theta = try SolverChecks.unrolledTheta(problem, Self.model.phi0)[0]
    let hand = Self.model.unrolled(Self.model.phi0, steps: Self.T)
    #expect(SolverChecks.relativeError(theta, hand) <= 1e-12, "\(theta) vs \(hand)")
    let loss = SolverChecks.outerLoss(problem, [theta], Self.model.phi0)
    #expect(abs(loss - Self.model.outerLoss(hand, Self.model.phi0)) <= 1e-12 * abs(loss))
  }

  @Test func unrollMatchesTheHandWrittenForwardModeAndDifferences() throws {
    let problem = try Self.problem()
    let model = Self.model
    let phi = model.phi0
    let exact = model.unrolledGradient(phi, steps: Self.T)
    let differences = try SolverChecks.centralDifferences(
      { p in model.outerLoss(model.unrolled(p, steps: Self.T), p) }, at: phi)
    // θ₀ = w0 and the lr still matter after T steps: w0's gradient is not just the explicit penalty's.
    #expect(SolverChecks.relativeError(exact, model.outerGradientPhi(phi)) > 1e-2, "\(exact)")
    #expect(abs(exact[0]) > 1e-3 * Dense.maxAbs(exact), "\(exact)")
    // The hand-derived tangent and the differences of the hand map agree first.
    #expect(SolverChecks.relativeError(exact, differences) <= 1e-7, "\(exact) vs \(differences)")
    for method: HypergradientMethod in [
      .unrollReverse(checkpoints: nil), .unrollForward, .unrollReverse(checkpoints: 3),
    ] {
      let g = try problem.hypergradient(method, at: phi).gradient
      #expect(
        SolverChecks.relativeError(g, differences) <= 1e-6,
        "\(method.description): \(g) vs \(differences)")
      #expect(
        SolverChecks.relativeError(g, exact) <= 1e-10, "\(method.description): \(g) vs \(exact)")
    }
  }

  @Test(arguments: [1, 3, 7])
  func truncatedMatchesDifferencesOfItsHandWrittenMap(_ K: Int) throws {
    let problem = try Self.problem()
    let model = Self.model
    let phi0 = model.phi0
    let held = model.steps(0..<(Self.T - K), from: model.start(phi0), phi0)
    let differences = try SolverChecks.centralDifferences(
      { p in
        model.outerLoss(model.steps((Self.T - K)..<Self.T, from: held, p), p)
      }, at: phi0)
    let g = try problem.hypergradient(.truncated(steps: K), at: phi0).gradient
    #expect(SolverChecks.relativeError(g, differences) <= 1e-6, "K=\(K): \(g) vs \(differences)")
  }

  @Test func firstOrderMatchesDifferencesOfItsHandWrittenMap() throws {
    let problem = try Self.problem()
    let model = Self.model
    let phi0 = model.phi0
    let theta0 = model.unrolled(phi0, steps: Self.T)
    let differences = try SolverChecks.centralDifferences(
      { p in
        var shifted = theta0
        for i in shifted.indices { shifted[i] += p[2 + i] - phi0[2 + i] }
        return model.outerLoss(shifted, p)
      }, at: phi0)
    let g = try problem.hypergradient(.firstOrder, at: phi0).gradient
    #expect(SolverChecks.relativeError(g, differences) <= 1e-6, "\(g) vs \(differences)")
  }

  /// evograd's proxy θ̄(φ) = Σ_k softmax(−L_in(θ_k, φ)/τ)_k θ_k with θ_k = θ_T(φ₀) + σ ε_k.
  /// The draws ε_k are the documented ones: RandomStream.normal with seed
  /// seed·1000003 + ((draw·M + task)·K + k), draw the outer step with
  /// `draws: fresh` (0 with fixed draws); the reported θ̄(φ₀) confirms the copy.
  @Test(arguments: [(false, 0), (true, 0), (true, 3)])
  func evogradMatchesDifferencesOfItsHandWrittenProxy(fresh: Bool, draw: Int) throws {
    let problem = try Self.problem()
    let model = Self.model
    let phi0 = model.phi0
    let (samples, sigma, tau, seed) = (6, 0.3, 0.05, 7)
    let theta = model.unrolled(phi0, steps: Self.T)
    let copies = (0..<samples).map { k in
      let e = RandomStream.normal(
        shape: Shape([RidgeModel.d]), seed: UInt64(seed) &* 1_000_003 &+ UInt64(draw * samples + k)
      ).scalars
      return zip(theta, e).map { $0 + sigma * $1 }
    }
    func proxy(_ p: [Double]) -> [Double] {
      let scores = copies.map { -model.innerLoss($0, p) / tau }
      let top = scores.max()!
      let w = scores.map { Foundation.exp($0 - top) }
      let total = w.reduce(0, +)
      return (0..<RidgeModel.d).map { i in
        (0..<samples).reduce(0) { $0 + w[$1] / total * copies[$1][i] }
      }
    }
    let method = HypergradientMethod.evograd(
      samples: samples, sigma: sigma, tau: tau, seed: seed, fresh: fresh)
    let result = try problem.hypergradient(method, at: phi0, outerStep: draw)
    // Fresh draws move between outer steps; fixed ones do not.
    let later = try problem.hypergradient(method, at: phi0, outerStep: draw + 1)
    #expect(
      (later.gradient == result.gradient) == !fresh, "\(later.gradient) vs \(result.gradient)")
    #expect(
      SolverChecks.relativeError(result.theta[0], proxy(phi0)) <= 1e-10,
      "\(result.theta[0]) vs \(proxy(phi0))")
    let differences = try SolverChecks.centralDifferences(
      { p in model.outerLoss(proxy(p), p) }, at: phi0)
    #expect(
      SolverChecks.relativeError(result.gradient, differences) <= 1e-6,
      "\(result.gradient) vs \(differences)")
    // The weights do move with λ: the proxy's λ-derivative is not trivially zero.
    #expect(abs(differences[1]) > 1e-6)
  }

  /// implicit(exact) and closed_form against θ*(λ) = (A + λI)⁻¹ c and its hypergradient by formula.
  @Test func implicitAndClosedFormMatchTheRidgeFormula() throws {
    let problem = try Self.problem(steps: Self.converged)
    let model = Self.model
    let phi = model.phi0
    let formula = model.solutionGradient(phi)
    let differences = try SolverChecks.centralDifferences(
      { p in model.outerLoss(model.solution(p), p) }, at: phi)
    #expect(SolverChecks.relativeError(formula, differences) <= 1e-8)

    let implicit = try problem.hypergradient(.implicitExact, at: phi)
    #expect(SolverChecks.relativeError(implicit.theta[0], model.solution(phi)) <= 1e-12)
    #expect(
      SolverChecks.relativeError(implicit.gradient, formula) <= 1e-9,
      "\(implicit.gradient) vs \(formula)")
    #expect(SolverChecks.relativeError(implicit.gradient, differences) <= 1e-6)

    let closed = try problem.hypergradient(.closedForm, at: phi)
    #expect(SolverChecks.relativeError(closed.theta[0], model.solution(phi)) <= 1e-12)
    #expect(
      SolverChecks.relativeError(closed.gradient, implicit.gradient) <= 1e-10,
      "\(closed.gradient) vs \(implicit.gradient)")
    #expect(SolverChecks.relativeError(closed.gradient, formula) <= 1e-10)
    #expect(closed.innerResidual <= 1e-12)

    let cg = try problem.hypergradient(
      .implicitConjugateGradient(iterations: 50, tolerance: 1e-14), at: phi)
    #expect(
      SolverChecks.relativeError(cg.gradient, formula) <= 1e-9, "\(cg.gradient) vs \(formula)")
  }

  /// closed_form needs no inner solver at all: it solves from θ₀ in one factorisation.
  @Test func closedFormMatchesImplicitExactWithoutAnInnerSolver() throws {
    let text = Self.model.text(steps: Self.converged)
      .replacingOccurrences(
        of: "solve inner with gd(lr: exp(loglr), steps: \(Self.converged))\n", with: ""
      )
      .replacingOccurrences(of: "unroll(reverse)", with: "closed_form")
      .replacingOccurrences(of: "outer loglr: scalar = \(Self.model.phi0[0])\n", with: "")
    #expect(!text.contains("loglr"))
    let problem = try SolverFixtures.problem(text)
    let phi = Array(Self.model.phi0.dropFirst())
    let closed = try problem.hypergradient(.closedForm, at: phi)
    let formula = Array(Self.model.solutionGradient(Self.model.phi0).dropFirst())
    #expect(
      SolverChecks.relativeError(closed.gradient, formula) <= 1e-10,
      "\(closed.gradient) vs \(formula)")
  }
}
