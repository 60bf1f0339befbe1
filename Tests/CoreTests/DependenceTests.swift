import Testing

@testable import BilevelCore

@Suite struct DependenceTests {
  /// x per task, c shared: x·c varies by task, its task mean does not, and
  /// the mean plus x varies again.
  @Test func taskVaryingStopsAtTaskReductions() {
    var g = Graph()
    let x = g.make(.data(0), shape: .scalar)
    let c = g.make(.data(1), shape: .scalar)
    let product = g.make(.binary(.multiply), [x, c])
    let mean = g.make(.taskReduce(.mean), [product])
    let again = g.make(.binary(.add), [mean, x])
    let varying = g.taskVarying { $0 == .data(0) }
    #expect([x, c, product, mean, again].map { varying[$0] } == [true, false, true, false, true])
    // Without the stop, the reduction depends on x like any other user.
    let reads = g.dependence { $0 == .data(0) }
    #expect(reads[mean])
  }

  @Test func dependenceOnNodesFollowsUsersOnly() {
    var g = Graph()
    let w = g.make(.variable(0), shape: .vector(2))
    let v = g.make(.variable(1), shape: .vector(2))
    let a = g.make(.unary(.exp), [w])
    let b = g.make(.unary(.exp), [v])
    let d = g.dependence(onNodes: [w])
    #expect([w, v, a, b].map { d[$0] } == [true, false, true, false])
  }

  /// Extending over a grown graph answers for the new nodes; the rewriter
  /// relies on this while it adds nodes.
  @Test func extendingAnswersForNodesAddedSince() {
    var g = Graph()
    let x = g.make(.data(0), shape: .scalar)
    var d = g.parameterDependence()
    let w = g.make(.variable(0), shape: .scalar)
    let sum = g.make(.binary(.add), [x, w])
    let twice = g.make(.binary(.add), [x, x])
    d.extend(to: g)
    #expect([x, w, sum, twice].map { d[$0] } == [false, true, true, false])
  }
}
