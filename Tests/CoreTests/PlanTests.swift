import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

@testable import BilevelCore

/// The plan's memory planner and fused kernels (every sample's products
/// through the plan are checked in SolverTests' SolverProductPlanTests).
@Suite struct PlanTests {
  @Test func memoryPlannerReusesDeadBuffers() {
    // A chain a → b → c → d: only two buffers are ever alive together.
    let buffers = (0..<4).map { MemoryPlanner.Buffer(size: 100, firstUse: $0, lastUse: $0 + 1) }
    let placement = MemoryPlanner.place(buffers)
    #expect(placement.maximumLive == 200)
    #expect(placement.size == 200)
    #expect(placement.withoutReuse == 400)
    for i in 0..<3 { #expect(placement.offsets[i] != placement.offsets[i + 1]) }
  }
}

@Suite struct NumericFaultTests {
  @Test func theFirstNonFiniteStepIsReportedWithItsSource() throws {
    let (source, _) = Parser.parse(
      SourceFile(
        path: "fault.blv",
        text: """
          outer a: scalar = 1
          inner w: vector[3] = [1, 2, 3]
          inner loss = sum(exp(w) * log(w - 2)) + a * sum(w^2)
          outer loss = sum(w^2)
          solve inner with gd(lr: 0.1, steps: 1)
          solve outer with gd(lr: 0.1, steps: 1)
          """))
    let program = try #require(Elaborator.elaborate(source).program).simplified().program
    let plan = PlanBuilder.build(program, roots: [program.innerLoss!])
    let e = ProgramEvaluation(initialPointOf: program)
    _ = plan.evaluate(program.leafValues(variable: { i, _ in e.variableValues[i][0] }))
    #expect(plan.read(0).scalar.isNaN)
    let fault = try #require(plan.runChecked())
    #expect(fault.value.isNaN || fault.value.isInfinite)
    #expect(fault.origin?.text == "log(w - 2)", "\(fault.origin?.text ?? "nil")")
  }
}

@Suite struct ScalarFaultTests {
  /// A one-entry kernel (the scalar fast path) that overflows is located too.
  @Test func anOverflowingScalarStepIsReported() throws {
    let (source, _) = Parser.parse(
      SourceFile(
        path: "scalar.blv",
        text: """
          outer a: scalar = 1000
          inner w: vector[3] = [1, 2, 3]
          inner loss = exp(a) * sum(w^2) + exp(a)
          outer loss = sum(w^2)
          solve inner with gd(lr: 0.1, steps: 1)
          solve outer with gd(lr: 0.1, steps: 1)
          """))
    let program = try #require(Elaborator.elaborate(source).program).simplified().program
    let plan = PlanBuilder.build(program, roots: [program.innerLoss!])
    #expect(plan.instructions.contains { if case .scalar = $0.opcode { true } else { false } })
    let e = ProgramEvaluation(initialPointOf: program)
    _ = plan.evaluate(program.leafValues(variable: { i, _ in e.variableValues[i][0] }))
    let fault = try #require(plan.runChecked())
    #expect(fault.value == .infinity)
    #expect(fault.origin?.text == "exp(a)")
  }
}

@Suite struct EmptyPlanTests {
  /// A root that needs no work (a constant) gives a plan with no
  /// instructions, and running it touches nothing.
  @Test func aPlanWithNoInstructionsRuns() {
    var g = Graph()
    let c = g.constant(3)
    var p = Program(file: SourceFile(path: "<t>", text: ""))
    p.graph = g
    let plan = PlanBuilder.build(p, roots: [c])
    #expect(plan.instructions.isEmpty)
    #expect(plan.instructionBuffer.count == 0)
    plan.run()
    #expect(plan.read(0).scalar == 3)
  }
}

@Suite struct PlanSolveTests {
  /// solve through the plan's blocked LU against the reference evaluator,
  /// with vector and matrix right-hand sides, sizes on both sides of the
  /// LU's panel width; a singular matrix gives NaN located at the solve.
  @Test(arguments: [3, 40, 97])
  func solveMatchesTheReference(_ n: Int) throws {
    var g = Graph()
    let a = g.make(.variable(0), shape: .matrix(n, n))
    let b = g.make(.variable(1), shape: .vector(n))
    let c = g.make(.variable(2), shape: .matrix(n, 3))
    let x = g.make(.solve, [a, b])
    let y = g.make(.solve, [g.make(.transpose, [a]), c])
    var p = Program(file: SourceFile(path: "<t>", text: ""))
    let range = SourceRange(file: p.file, start: 0, end: 0)
    p.variables = [Shape.matrix(n, n), .vector(n), .matrix(n, 3)].enumerated().map { k, s in
      Variable(
        name: "v\(k)", level: .inner, shape: s, perTask: false, initial: g.constant(0, shape: s),
        bounds: nil, range: range)
    }
    p.graph = g
    var matrix = TestPrograms.random(.matrix(n, n), seed: 5)
    for i in 0..<n { matrix[i, i] += Double(n) }
    let values = [
      matrix, TestPrograms.random(.vector(n), seed: 6), TestPrograms.random(.matrix(n, 3), seed: 7),
    ]
    let leaves = p.leafValues(variable: { i, _ in values[i] })
    let plan = PlanBuilder.build(p, roots: [x, y])
    let got = plan.evaluate(leaves)
    let expected = ReferenceEvaluator.evaluate(
      p.graph, roots: [x, y], leaves: leaves, taskCount: 1, task: nil)
    for (u, v) in zip(got, expected) { #expect(Tensor.closeForPlanTests(u, v)) }
    // A singular matrix: NaN, reported at the solve.
    plan.write(.variable(0), [Double](repeating: 1, count: n * n))
    plan.run()
    #expect(plan.read(0).scalars.contains { $0.isNaN })
    let fault = try #require(plan.runChecked())
    #expect(
      { if case .solve = plan.instructions[fault.instruction].opcode { true } else { false } }())
  }
}
