import BilevelFrontEnd
import Testing

@testable import BilevelCore

/// The values plans compute from data alone: computed once per program by
/// the plan kernels (ConstantPool), equal to the reference evaluator's up
/// to rounding, and the same buffer for every plan that reads them.
@Suite struct ConstantPoolTests {
  /// A least-squares gradient Xᵀ(Xw − y): planning reassociates it to
  /// (XᵀX)w − Xᵀy, with XᵀX and Xᵀy hoisted.
  static func program() throws -> (Program, gradient: NodeID, residual: NodeID) {
    let (source, _) = Parser.parse(
      SourceFile(
        path: "pool.blv",
        text: """
          dim n = 40, d = 24
          data X = randn(n, d, seed: 1)
          data y = randn(n, seed: 2)
          outer a: scalar = 0
          inner w: vector[d] = 0
          report r = sum(X' @ (X @ w - y)) + exp(a)
          inner loss = sum((X @ w - y)^2) + a * sum(w^2)
          outer loss = sum(w^2)
          solve inner with gd(lr: 0.01, steps: 2)
          solve outer with gd(lr: 0.1, steps: 1)
          """))
    var program = try #require(Elaborator.elaborate(source).program).simplified().program
    let r = try #require(program.reports.first).node
    let x = try #require(program.data.firstIndex { $0.name == "X" })
    let y = try #require(program.data.firstIndex { $0.name == "y" })
    let w = try #require(program.variables.firstIndex { $0.name == "w" })
    var graph = program.graph
    let xNode = graph.make(.data(x), shape: .matrix(40, 24))
    let product = graph.make(
      .matmul(transposeLeft: false, transposeRight: false),
      [xNode, graph.make(.variable(w), shape: .vector(24))])
    let residual = graph.make(
      .binary(.subtract), [product, graph.make(.data(y), shape: .vector(40))])
    let g = graph.make(.matmul(transposeLeft: true, transposeRight: false), [xNode, residual])
    program.graph = graph
    return (program, g, r)
  }

  static func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    let scale = b.reduce(0) { max($0, abs($1)) }
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) } / max(scale, 1e-300)
  }

  @Test func aHoistedProductEqualsTheReferenceEvaluatorsToRounding() throws {
    let (program, _, _) = try Self.program()
    var graph = program.graph
    let x = try #require(program.data.firstIndex { $0.name == "X" })
    let xNode = graph.make(.data(x), shape: program.data[x].shape)
    let gram = graph.make(.matmul(transposeLeft: true, transposeRight: false), [xNode, xNode])
    let pool = ConstantPool(program)
    let value = pool.values([(gram, -1)], in: graph)[0].values
    let leaves = program.leafValues(variable: { _, _ in preconditionFailure() })
    let reference = ReferenceEvaluator.evaluate(
      graph, roots: [gram], leaves: leaves, taskCount: 1, task: nil)[0].scalars
    #expect(value.count == 24 * 24)
    #expect(Self.relativeError(value, reference) < 1e-13)
    #expect(pool.evaluations == 1)
  }

  @Test func everyPlanOfAProgramReusesTheSameValues() throws {
    let (program, g, r) = try Self.program()
    let pool = ConstantPool(program)
    let first = PlanBuilder.build(program, roots: [g], constants: pool)
    let computed = pool.computedValues
    let evaluations = pool.evaluations
    #expect(computed >= 2, "XᵀX and Xᵀy are hoisted")
    let second = PlanBuilder.build(program, roots: [r, g], constants: pool)
    #expect(pool.computedValues == computed, "the second plan computes nothing new")
    #expect(pool.evaluations == evaluations)
    let shared = Set(first.constantBuffers.map { ObjectIdentifier($0.buffer) })
    #expect(shared.isSubset(of: second.constantBuffers.map { ObjectIdentifier($0.buffer) }))
    // Both plans agree with the reference evaluator to rounding.
    let e = ProgramEvaluation(initialPointOf: program)
    let w = try #require(program.variables.firstIndex { $0.name == "w" })
    var values = e.variableValues
    values[w] = [Tensor(shape: .vector(24), scalars: (0..<24).map { Double($0) / 10 - 1 })]
    let leaves = program.leafValues { i, _ in values[i][0] }
    let reference = ReferenceEvaluator.evaluate(
      program.graph, roots: [g, r], leaves: leaves, taskCount: 1, task: nil)
    let a = first.evaluate(leaves)
    let b = second.evaluate(leaves)
    #expect(Self.relativeError(a[0].scalars, reference[0].scalars) < 1e-12)
    #expect(Self.relativeError(b[1].scalars, reference[0].scalars) < 1e-12)
    #expect(Self.relativeError(b[0].scalars, reference[1].scalars) < 1e-12)
  }
}
