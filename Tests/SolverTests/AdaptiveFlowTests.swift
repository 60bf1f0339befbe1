import BilevelCore
import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

@testable import BilevelSolvers

/// `flow(method: dopri5)` on GradientFlowTests' ridge problem: the adaptive
/// solve against the analytic flow, and its hypergradients (forward
/// sensitivity and adjoint on the accepted steps) against central
/// differences of the whole adaptive map, the horizon included.
@Suite struct AdaptiveFlowTests {
  static let phi0 = GradientFlowTests.phi0

  static func text(_ settings: String, method: String = "adjoint") -> String {
    GradientFlowTests.text(steps: 7, method: method).replacingOccurrences(
      of: "steps: 7)", with: "method: dopri5, \(settings))")
  }

  static func problem(rtol: Double, method: String = "adjoint") throws -> BilevelProblem {
    try SolverFixtures.problem(text("rtol: \(rtol), atol: \(rtol * 1e-2)", method: method))
  }

  @Test func matchesTheAnalyticFlowToItsTolerance() throws {
    let exact = GradientFlowTests.analytic(Self.phi0)
    var errors: [Double] = []
    var steps: [Int] = []
    for rtol in [1e-5, 1e-9] {
      let solution = try InnerSolver(try Self.problem(rtol: rtol)).solve(Self.phi0)
      errors.append(SolverChecks.relativeError(solution.theta[0], exact))
      steps.append(solution.steps)
      // Local error control keeps the global error near the tolerance.
      #expect(errors.last! <= 10 * rtol, "rtol \(rtol): \(errors.last!)")
    }
    // Tightening by 10⁴ shrinks the error by well over 10² and takes more steps.
    #expect(errors[1] < errors[0] / 100, "\(errors)")
    #expect(steps[1] > steps[0], "\(steps)")
  }

  @Test func lastStepLandsOnTheHorizon() throws {
    let problem = try Self.problem(rtol: 1e-7)
    let horizon = exp(Self.phi0[0])
    let flow = try problem.solveAdaptiveFlow(
      Self.phi0, task: 0, tolerances: problem.adaptiveFlow!)
    #expect(flow.steps.count > 3)
    #expect(flow.steps.allSatisfy { $0 > 0 })
    #expect(abs(flow.steps.reduce(0, +) - horizon) <= 1e-14 * horizon)
  }

  @Test func forwardAdjointAndDifferencesAgreeHorizonIncluded() throws {
    let phi = Self.phi0
    let problem = try Self.problem(rtol: 1e-10)
    let adjoint = try problem.hypergradient(.adjoint, at: phi).gradient
    let forward = try problem.hypergradient(.unrollForward, at: phi).gradient
    // Central differences of the whole adaptive map: a fresh grid at each φ.
    let differences = try SolverChecks.centralDifferences(
      { p in
        SolverChecks.outerLoss(problem, try InnerSolver(problem).solve(p).theta, p)
      }, at: phi)
    #expect(
      SolverChecks.relativeError(forward, differences) <= 1e-6, "\(forward) vs \(differences)")
    #expect(
      SolverChecks.relativeError(adjoint, differences) <= 1e-6, "\(adjoint) vs \(differences)")
    #expect(SolverChecks.relativeError(adjoint, forward) <= 1e-6, "\(adjoint) vs \(forward)")
    // Each entry, the horizon's own derivative first.
    for j in phi.indices {
      let scale = max(abs(differences[j]), 1e-3)
      #expect(abs(forward[j] - differences[j]) <= 1e-6 * scale, "entry \(j)")
      #expect(abs(adjoint[j] - differences[j]) <= 1e-6 * scale, "entry \(j)")
    }
    #expect(abs(differences[0]) > 1e-3, "the horizon matters: \(differences[0])")
  }

  @Test func onlyForwardAndAdjointDifferentiateIt() throws {
    let sizes = ProblemSizes(try Self.problem(rtol: 1e-6).source)
    #expect(HypergradientMethod.adjoint.record.inapplicable(sizes) == nil)
    #expect(HypergradientMethod.unrollForward.record.inapplicable(sizes) == nil)
    let reverse = HypergradientMethod.unrollReverse(checkpoints: nil).record.inapplicable(sizes)
    #expect(reverse?.contains("dopri5") == true, "\(reverse ?? "nil")")
  }

  @Test func exceedingMaxStepsIsALocatedFault() throws {
    let problem = try SolverFixtures.problem(Self.text("rtol: 1e-10, max_steps: 3"))
    do {
      _ = try InnerSolver(problem).solve(Self.phi0)
      Issue.record("the solve should stop at max_steps")
    } catch {
      #expect(error.kind == .stepLimit)
      #expect(error.message.contains("max_steps = 3"), "\(error.message)")
      #expect(error.origin != nil)
    }
  }

  @Test func settingsOutOfRangeAreCompileErrors() {
    for bad in ["rtol: 0", "atol: -1e-9", "max_steps: 0"] {
      let name = String(bad.prefix { $0 != ":" })
      do {
        _ = try SolverFixtures.problem(Self.text(bad))
        Issue.record("\(bad) should be refused")
      } catch {
        let text = "\(error)"
        #expect(text.contains(name) && text.contains("must be"), "\(text)")
      }
    }
  }
}
