import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation
import TestSupport
import Testing

/// The planner's primal/dual choice for ridge solves (Reassociation.swift's
/// Woodbury rules): (FᵀF + λI)⁻¹FᵀY and Fᵀ(FFᵀ + λI)⁻¹Y are one value, so the
/// plan solves the smaller of the d×d and n×n systems, whichever form the
/// program wrote, and so do the adjoint solves of its gradient.
@Suite struct WoodburyTests {
  static func text(n: Int, d: Int, dual: Bool) -> String {
    let head =
      dual
      ? "F' @ solve(F @ F' + exp(loglam) * eye(n), Y)"
      : "solve(F' @ F + exp(loglam) * eye(d), F' @ Y)"
    return """
      dim n = \(n), d = \(d)
      data Y = randn(n, 2, seed: 3)
      data W = randn(d, 2, seed: 4)
      outer F: matrix[n, d] = randn(n, d, seed: 5)
      outer loglam: scalar = 0.3
      let Theta = \(head)
      outer loss = sum(W * Theta) + 0.1 * sum(tanh(Theta)^2)
      solve outer with gd(lr: 0.01, steps: 1)
      """
  }

  static let shapes = [(5, 12), (12, 5), (3, 40), (40, 3)]

  /// The sizes of the systems a plan solves.
  static func solveSizes(_ plan: Plan) -> [Int] {
    plan.instructions.compactMap { ins in
      if case .solve = ins.opcode { return Int(ins.m) }
      return nil
    }
  }

  @Test(arguments: shapes)
  func theSmallerSystemIsSolvedWhicheverFormIsWritten(n: Int, d: Int) throws {
    for dual in [false, true] {
      let problem = try SolverFixtures.problem(Self.text(n: n, d: d, dual: dual))
      let plan = problem.outerGradient.plan
      let sizes = Self.solveSizes(plan)
      // The loss's solve and the gradient's adjoint solve, both the smaller.
      #expect(sizes.count >= 2 && sizes.allSatisfy { $0 == min(n, d) }, "\(sizes)")
      let written = dual ? n : d
      let rules = plan.rewrites.map(\.rule)
      #expect(rules.contains("woodbury-push-through") == (written > min(n, d)), "\(rules)")
      // Unplanned (no reassociation) the program's own system is solved.
      let loss = try #require(problem.source.outerLoss)
      let plain = PlanBuilder.build(problem.source, roots: [loss], reassociate: false)
      #expect(Self.solveSizes(plain) == [written])
    }
  }

  /// Both forms, planned, give the unplanned loss to rounding, and the same gradient.
  @Test(arguments: shapes)
  func bothFormsAgreeWithTheUnplannedLoss(n: Int, d: Int) throws {
    var gradients: [[Double]] = []
    for dual in [false, true] {
      let problem = try SolverFixtures.problem(Self.text(n: n, d: d, dual: dual))
      let phi = problem.initialOuter()
      let result = try problem.hypergradient(.firstOrder, at: phi)
      let program = problem.source
      let loss = try #require(program.outerLoss)
      let e = ProgramEvaluation(initialPointOf: program)
      let leaves = program.leafValues(variable: { i, _ in e.variableValues[i][0] })
      let plain = PlanBuilder.build(program, roots: [loss], reassociate: false)
      let planned = PlanBuilder.build(program, roots: [loss])
      let reference = plain.evaluate(leaves)[0].scalar
      #expect(abs(planned.evaluate(leaves)[0].scalar - reference) <= 1e-12 * max(1, abs(reference)))
      #expect(abs(result.outerLoss - reference) <= 1e-12 * max(1, abs(reference)))
      gradients.append(result.gradient)
    }
    #expect(SolverChecks.relativeError(gradients[0], gradients[1]) <= 1e-11)
  }

  /// The planned gradient (through the rewritten solves) against central differences.
  @Test(arguments: shapes)
  func theGradientMatchesFiniteDifferences(n: Int, d: Int) throws {
    for dual in [false, true] {
      let problem = try SolverFixtures.problem(Self.text(n: n, d: d, dual: dual))
      let phi = problem.initialOuter()
      let gradient = try problem.hypergradient(.firstOrder, at: phi).gradient
      let differences = try SolverChecks.centralDifferences(
        { x in try problem.hypergradient(.firstOrder, at: x).outerLoss }, at: phi)
      #expect(
        SolverChecks.relativeError(gradient, differences) <= 1e-7,
        "n = \(n), d = \(d), dual: \(dual)")
    }
  }
}
