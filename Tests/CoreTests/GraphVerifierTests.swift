import BilevelFrontEnd
import Testing

@testable import BilevelCore

/// Graph.verify on deliberately broken graphs: each invariant it guards,
/// broken once, is reported at the faulty node with the nodes around it.
@Suite struct GraphVerifierTests {
  static let x = Node(op: .variable(0), inputs: [], shape: .vector(3))
  static let y = Node(op: .data(0), inputs: [], shape: .vector(3))

  static func error(_ nodes: [Node], literals: [Tensor] = []) -> GraphVerificationError? {
    do throws(GraphVerificationError) {
      try Graph(unverifiedNodes: nodes, literals: literals).verify()
      return nil
    } catch {
      return error
    }
  }

  @Test func theTestBuildVerifiesAfterEveryPass() {
    // Package.swift optimises BilevelCore in debug builds too; DEBUG must still be set.
    #expect(IRVerification.runsAfterEveryPass)
  }

  @Test func aWellFormedGraphPasses() throws {
    var g = Graph()
    let x = g.make(.variable(0), shape: .matrix(2, 3))
    let v = g.make(.data(0), shape: .vector(3))
    let p = g.make(.matmul(transposeLeft: false, transposeRight: false), [x, v])
    _ = g.make(.reduce(.sum, .all), [g.make(.unary(.exp), [p])])
    _ = g.literal(Tensor(shape: .vector(2), scalars: [1, 2]))
    try g.verify()
  }

  @Test func aForwardReferenceIsReported() throws {
    let exp = Node(op: .unary(.exp), inputs: [NodeID(2)], shape: .vector(3))
    let e = try #require(Self.error([Self.x, exp, Self.y]))
    #expect(e.node == NodeID(1))
    #expect(e.message.contains("does not precede"))
  }

  @Test func aSelfReferenceIsReported() throws {
    let exp = Node(op: .unary(.exp), inputs: [NodeID(1)], shape: .vector(3))
    #expect(try #require(Self.error([Self.x, exp])).node == NodeID(1))
  }

  @Test func aShapeTheRuleDoesNotGiveIsReported() throws {
    let sum = Node(op: .binary(.add), inputs: [NodeID(0), NodeID(1)], shape: .vector(4))
    let e = try #require(Self.error([Self.x, Self.y, sum]))
    #expect(e.node == NodeID(2))
    #expect(e.message.contains("recorded shape") && e.message.contains("the shape rule gives"))
  }

  @Test func inputsTheShapeRuleRejectsAreReported() throws {
    let m = Node(op: .data(1), inputs: [], shape: .matrix(2, 2))
    let product = Node(
      op: .matmul(transposeLeft: false, transposeRight: false), inputs: [NodeID(1), NodeID(0)],
      shape: .vector(2))
    let e = try #require(Self.error([Self.x, m, product]))
    #expect(e.node == NodeID(2))
    #expect(e.message.contains("shape rule rejects"))
  }

  @Test func aDuplicateNodeBreaksHashConsing() throws {
    let exp = Node(op: .unary(.exp), inputs: [NodeID(0)], shape: .vector(3))
    let e = try #require(Self.error([Self.x, exp, exp]))
    #expect(e.node == NodeID(2))
    #expect(e.message.contains("%1"))
  }

  @Test func aWrongArityAndADanglingLiteralAreReported() throws {
    let negate = Node(op: .unary(.negate), inputs: [NodeID(0), NodeID(0)], shape: .vector(3))
    #expect(try #require(Self.error([Self.x, negate])).message.contains("takes 1 inputs"))
    let literal = Node(op: .literal(1), inputs: [], shape: .vector(2))
    let table = [Tensor(shape: .vector(2), scalars: [1, 2])]
    #expect(try #require(Self.error([literal], literals: table)).message.contains("literal 1"))
  }

  @Test func theReportShowsTheNodesAroundTheFault() throws {
    var nodes = [Self.x]
    for k in 1..<10 {
      nodes.append(
        Node(op: .unary(k % 2 == 0 ? .exp : .sin), inputs: [NodeID(k - 1)], shape: .vector(3)))
    }
    nodes[6] = Node(op: .unary(.exp), inputs: [NodeID(5)], shape: .scalar)
    let e = try #require(Self.error(nodes))
    let lines = e.description.split(separator: "\n")
    #expect(lines.contains { $0.hasPrefix("> %6 = unary(") })
    #expect(
      lines.contains { $0.hasPrefix("  %3 = ") } && lines.contains { $0.hasPrefix("  %9 = ") })
    #expect(!lines.contains { $0.hasPrefix("  %2 = ") })
  }
}
