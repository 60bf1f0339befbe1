import BilevelFrontEnd
import TestSupport
import Testing

@testable import BilevelCore

/// Narrow fused kernels run over blocks of whole rows (FusedRowBlocks): the
/// same bits as the row-by-row loop, with row and column broadcasts and a
/// summed result, for widths on both sides of the block's multiples.
@Suite struct FusedRowBlockTests {
  @Test(arguments: [(12, 5), (80, 4), (10, 40), (7, 128), (3, 129)])
  func rowBlocksGiveTheRowLoopsBits(_ rows: Int, _ columns: Int) {
    var g = Graph()
    let x = g.make(.variable(0), shape: .matrix(rows, columns))
    let r = g.make(.variable(1), shape: .vector(columns))
    let c = g.make(.variable(2), shape: .vector(rows))
    // tanh(x·r + c) with r along the rows and c down the columns, and a summed chain.
    let scaled = g.make(.binary(.multiply), [x, r])
    let y = g.make(.unary(.tanh), [g.make(.binary(.add), [scaled, c])])
    let centred = g.make(.binary(.subtract), [x, c])
    let z = g.make(
      .reduce(.sum, .all), [g.make(.binary(.multiply), [g.make(.unary(.exp), [centred]), r])])
    // A longer chain elsewhere in the plan leaves the kernels above free
    // registers for their broadcasts (a kernel without enough runs by rows).
    var chain = x
    for f in [UnaryFunction.sin, .cos, .sin, .cos, .sin, .cos] {
      chain = g.make(.unary(f), [chain])
    }
    var p = Program(file: SourceFile(path: "<t>", text: ""))
    let range = SourceRange(file: p.file, start: 0, end: 0)
    let shapes = [Shape.matrix(rows, columns), .vector(columns), .vector(rows)]
    p.variables = shapes.enumerated().map { k, s in
      Variable(
        name: "v\(k)", level: .inner, shape: s, perTask: false, initial: g.constant(0, shape: s),
        bounds: nil, range: range)
    }
    p.graph = g
    let values = shapes.enumerated().map { TestPrograms.random($1, seed: UInt64(11 + $0)) }
    let leaves = p.leafValues(variable: { i, _ in values[i] })
    let plan = PlanBuilder.build(p, roots: [y, z, chain])
    let blocked = plan.evaluate(leaves)
    let narrow = columns <= FusedKernel.block / 2
    #expect(plan.kernelBuffer.contains { $0.rowsPerBlock > 0 } == narrow)
    // The same plan row by row.
    for k in plan.kernelBuffer.indices { plan.kernelBuffer[k].rowsPerBlock = 0 }
    let byRow = plan.evaluate(leaves)
    for (u, v) in zip(blocked, byRow) {
      #expect(u.scalars.map(\.bitPattern) == v.scalars.map(\.bitPattern))
    }
    let expected = ReferenceEvaluator.evaluate(
      p.graph, roots: [y, z, chain], leaves: leaves, taskCount: 1, task: nil)
    for (u, v) in zip(blocked, expected) { #expect(Tensor.closeForPlanTests(u, v)) }
  }
}
