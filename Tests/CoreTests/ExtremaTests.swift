import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

@testable import BilevelCore

/// max and min of two arrays, min as a reduction and argmax: values (by
/// the plan and by the reference kernels), their documented conventions at
/// ties, and argmax refused where solvers differentiate.
@Suite struct ExtremaTests {
  typealias K = DerivativeKinkTests

  /// max(a, b) and min(a, b) send a tie's whole gradient to the first argument.
  @Test(arguments: DerivativeKinkTests.forms)
  func entrywiseTiesGoToTheFirstArgument(_ simplify: Bool) throws {
    let x = K.vector([1, 2, 3])
    // max(x, 2) = [2, 2, 3]: at the tie x[2] = 2 the gradient goes to x.
    let maxFirst = try K.derivatives("sum(max(x, 2))", "x", x, simplify: simplify)
    #expect(maxFirst.gradient == [0, 1, 1])
    // max(2, x): the tie's gradient goes to the constant.
    let maxSecond = try K.derivatives("sum(max(2, x))", "x", x, simplify: simplify)
    #expect(maxSecond.gradient == [0, 0, 1])
    let minFirst = try K.derivatives("sum(min(x, 2))", "x", x, simplify: simplify)
    #expect(minFirst.gradient == [1, 1, 0])
    let minSecond = try K.derivatives("sum(min(2, x))", "x", x, simplify: simplify)
    #expect(minSecond.gradient == [1, 0, 0])
    // Both arguments the same variable: the two partials sum to 1 at the tie.
    let same = try K.derivatives("sum(max(x, x) + min(x, x))", "x", x, simplify: simplify)
    #expect(same.gradient == [2, 2, 2])
    #expect((maxFirst.hvp + minFirst.hvp + same.hvp).allSatisfy { $0 == 0 })
  }

  @Test(arguments: DerivativeKinkTests.forms)
  func minWithTiesSplitsEvenly(_ simplify: Bool) throws {
    let two = try K.derivatives("min(x)", "x", K.vector([3, 1, 1, 2]), simplify: simplify)
    #expect(two.gradient == [0, 0.5, 0.5, 0])
    let jvp = try K.derivatives(
      "min(x)", "x", K.vector([3, 1, 1, 2]), along: [5, 1, 2, 7], simplify: simplify)
    #expect(K.close([jvp.jvp], [1.5]))
    let columns = try K.derivatives(
      "sum(min(X, axis: rows))", "X", K.matrix([[1, 5, 0], [1, 2, 0]]), simplify: simplify)
    #expect(columns.gradient == [0.5, 0, 0.5, 0.5, 1, 0.5])
  }

  /// Values through the compiled plan (a data definition) and the reference kernel.
  @Test func values() throws {
    let cases: [(String, [Double])] = [
      ("max([1, 5, 2], [4, 0, 2])", [4, 5, 2]),
      ("min([1, 5, 2], [4, 0, 2])", [1, 0, 2]),
      ("max([[1, 2], [3, 4]], [0, 3])", [1, 3, 3, 4]),
      ("min([[1, 7], [3, 4]])", [1]),
      ("min([[1, 7], [3, 0]], axis: rows)", [1, 0]),
      ("min([[1, 7], [3, 0]], axis: columns)", [1, 0]),
      ("argmax([3, 9, 9, 1])", [2]),
      ("argmax([[1, 7], [8, 0]])", [3]),
      ("argmax([[1, 7, 7], [8, 0, 9]], axis: rows)", [2, 1, 2]),
      ("argmax([[1, 7, 7], [8, 0, 9]], axis: columns)", [2, 3]),
    ]
    for (text, expected) in cases {
      let h = try DerivativeHarness(
        statements: DerivativeHarness.dataStatements([("unused", K.vector([0]))]),
        expression: text, wrt: [], simplify: true)
      #expect(h.values(h.output, at: []) == expected, "\(text)")
      let node = h.graph[h.output]
      if !node.op.isLeaf {
        let inputs = node.inputs.map { h.values($0, at: []) }.enumerated().map { k, v in
          Tensor(shape: h.graph.shape(node.inputs[k]), scalars: v)
        }
        #expect(
          node.op.evaluateReference(inputs, shape: node.shape).scalars == expected,
          "reference \(text)")
      }
    }
    #expect(
      Op.argmax(.all).evaluateReference([K.vector([1, .nan, 3])], shape: .scalar).scalars[0].isNaN)
    #expect(
      BinaryFunction.maximum.apply(.nan, 1).isNaN && BinaryFunction.minimum.apply(1, .nan).isNaN)
  }

  /// argmax in a loss is an error at the call, also through a let and a def;
  /// in a report and in data it is fine.
  @Test func argmaxIsRefusedInLosses() throws {
    let head =
      "data x = [1, 3, 2]\nouter a: scalar = 1\ninner w: vector[2] = 0\n"
      + "solve inner with gd(lr: 0.1, steps: 10)\nsolve outer with gd(lr: 0.1, steps: 3)\n"
    let good =
      head
      + "data k = argmax(x)\ninner loss = sum((w - a)^2)\nouter loss = sum(w^2)\nreport best = argmax(w) + k\n"
    #expect(try Self.errors(good).isEmpty)
    let viaLet =
      head + "let pick = argmax(w)\ninner loss = sum((w - a)^2)\nouter loss = sum(w^2) * pick\n"
    let diagnostics = try Self.errors(viaLet)
    #expect(diagnostics.count == 1)
    #expect(diagnostics.first?.message.contains("argmax is not differentiable") == true)
    // Located at the argmax call in the let (line 6), not at the loss.
    #expect(diagnostics.first?.range?.text == "argmax(w)")
    let viaDef = head + "def f(v) = argmax(v)\ninner loss = sum((w - a)^2)\nouter loss = f(w)\n"
    #expect(try Self.errors(viaDef).first?.message.contains("the outer loss cannot use it") == true)
    let inner = head + "inner loss = sum((w - a)^2) + argmax(w)\nouter loss = sum(w^2)\n"
    #expect(try Self.errors(inner).first?.message.contains("the inner loss cannot use it") == true)
    let axis = head + "inner loss = sum((w - a)^2)\nouter loss = sum(max(w, a, axis: rows))\n"
    #expect(try Self.errors(axis).first?.message.contains("takes no axis") == true)
  }

  static func errors(_ text: String) throws -> [Diagnostic] {
    TestPrograms.compile(text) { Elaborator.elaborate($0) }.diagnostics.filter {
      $0.severity == .error
    }
  }
}
