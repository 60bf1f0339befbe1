import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

@testable import BilevelCore

@Suite struct GraphTests {
  @Test func equalSubexpressionsAreOneNode() throws {
    var g = Graph()
    let x = g.make(.data(0), shape: .vector(3))
    let a = g.make(.unary(.exp), [x])
    let b = g.make(.unary(.exp), [x])
    #expect(a == b)
    #expect(g.count == 2)
    let s1 = g.make(.binary(.add), [a, x])
    let s2 = g.make(.binary(.add), [a, x])
    #expect(s1 == s2)
    // Inputs always precede users: ID order is a topological order.
    for (i, n) in g.nodes.enumerated() { #expect(n.inputs.allSatisfy { $0.index < i }) }
  }

  @Test func shapesAreCheckedWhenNodesAreMade() {
    var g = Graph()
    let a = g.make(.data(0), shape: .matrix(2, 3))
    let b = g.make(.data(1), shape: .matrix(2, 3))
    #expect(throws: ShapeError.self) {
      try g.add(.matmul(transposeLeft: false, transposeRight: false), [a, b])
    }
    let ok = try? g.add(.matmul(transposeLeft: true, transposeRight: false), [a, b])
    #expect(ok.map { g.shape($0) } == .matrix(3, 3))
  }

  @Test func literalsInternByValueAndUniformOnesBecomeConstants() {
    var g = Graph()
    let t = Tensor(shape: .vector(3), scalars: [1, 2, 3])
    #expect(g.literal(t) == g.literal(t))
    #expect(g.literals.count == 1)
    let z = g.literal(Tensor(filling: 0, shape: .vector(4)))
    #expect(g[z].op == .constant(0))
  }

  @Test func reachableIsTopologicalAndSkipsDeadNodes() {
    var g = Graph()
    let x = g.make(.data(0), shape: .scalar)
    let dead = g.make(.unary(.sin), [x])
    let y = g.make(.unary(.exp), [x])
    let z = g.make(.binary(.multiply), [y, x])
    #expect(g.reachable(from: [z]) == [x, y, z])
    #expect(!g.reachable(from: [z]).contains(dead))
  }

  @Test func quickstartGraphHasNoDuplicateNodes() throws {
    let path = PackagePaths.samples + "/quickstart.blv"
    let run = DriverRunner.run(["--emit", "graph", "quickstart.blv"], in: PackagePaths.samples)
    #expect(run.status == 0, "\(path): \(run.errors)")
    // Each node line's right-hand side (op and operands) appears once.
    let bodies = run.output.split(separator: "\n").filter { $0.hasPrefix("%") }.map {
      line -> String in
      let rhs = line.split(separator: "=", maxSplits: 1)[1]
      return String(rhs.split(separator: "#")[0]).trimmingCharacters(in: .whitespaces)
    }
    #expect(!bodies.isEmpty)
    #expect(Set(bodies).count == bodies.count, "duplicate nodes in \(bodies)")
  }
}
