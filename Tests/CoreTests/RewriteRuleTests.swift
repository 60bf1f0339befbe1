import BilevelFrontEnd
import TestSupport
import Testing

@testable import BilevelCore

/// One example per named rewrite rule: the rule fires, and the value does
/// not change (bit for bit for the safe rules). Adding a rule without an
/// example fails `everyRuleHasAnExample`.
@Suite struct RewriteRuleTests {
  static let examples: [String: String] = [
    "fold-constants": "2 * 3 + x",
    "commute-canonical": "x * 2",
    "add-zero": "x + 0",
    "subtract-zero": "0 - x",
    "identity-operand": "x * 1",
    "power-zero": "x ^ 0",
    "double-negation": "--x",
    "absorb-negation": "x - -y",
    "negation-into-constant": "-(2 * x)",
    "add-self": "x + x",
    "multiply-minus-one": "-1 * x",
    "implicit-broadcast": "A * (sum(x) * ones(3, 3))",
    "transpose-transpose": "(A')'",
    "fold-transpose-into-matmul": "A' @ B",
    "transpose-of-matmul": "(A @ B)'",
    "redundant-reshape": "reshape(reshape(A, 9), 3, 3)",
    "subtract-self": "x - x",
    "multiply-zero": "x * 0",
    "divide-self": "x / x",
    "log-exp-inverse": "log(exp(x))",
    "collect-scaled-terms": "2 * x + 3 * x",
    "combine-scales": "2 * (3 * x)",
  ]

  static let data: [(String, Tensor)] = [
    ("x", TestPrograms.random(.vector(3), seed: 1, positive: true)),
    ("y", TestPrograms.random(.vector(3), seed: 2)),
    ("A", TestPrograms.random(.matrix(3, 3), seed: 3)),
    ("B", TestPrograms.random(.matrix(3, 3), seed: 4)),
  ]

  @Test func everyRuleHasAnExample() {
    for rule in RewriteRules.all {
      #expect(Self.examples[rule.name] != nil, "rule \(rule.name) has no example")
    }
  }

  @Test(arguments: RewriteRules.all.map(\.name))
  func ruleFiresAndKeepsTheValue(_ name: String) throws {
    let rule = try #require(RewriteRules.all.first { $0.name == name })
    let text = try #require(Self.examples[name])
    let built = try #require(
      TestPrograms.expression(text, data: Self.data).built, "\(text) does not compile")
    let before = built.value
    let result = Simplifier.simplify(built.program.graph, roots: [built.node], unsafeMath: true)
    #expect(
      result.fired.contains { $0.rule == name }, "\(name) did not fire on \(text): \(result.fired)")
    var simplified = built.program
    simplified.graph = result.graph
    let after = ProgramEvaluation(initialPointOf: simplified).evaluate(result.roots[0])
    #expect(after.shape == before.shape)
    if rule.changesIEEEResults {
      for (a, b) in zip(after.scalars, before.scalars) {
        #expect(abs(a - b) <= 1e-12 * max(1, abs(b)), "\(text): \(a) vs \(b)")
      }
      // Without the option the rule stays off.
      let safe = Simplifier.simplify(built.program.graph, roots: [built.node], unsafeMath: false)
      #expect(
        !safe.fired.contains { $0.rule == name },
        "\(name) changes IEEE results but ran without unsafeMath")
    } else {
      #expect(after == before, "\(name) changed the value of \(text)")
    }
  }

  @Test func simplifiedFormsPrintAsExpected() throws {
    let cases: [(String, String)] = [
      ("x * 1 + 0", "x"), ("--x", "x"), ("(A')'", "A"), ("A' @ B'", "A' @ B'"), ("x * 2", "2 * x"),
      ("(A @ B)'", "B' @ A'"), ("x - -y", "x + y"), ("-(2 * x)", "-2 * x"),
      ("sum(x + x)", "sum(2 * x)"),
    ]
    for (input, expected) in cases {
      let built = try #require(TestPrograms.expression(input, data: Self.data).built)
      let s = Simplifier.simplify(built.program.graph, roots: [built.node])
      #expect(built.program.expressionPrinter(s.graph).render(s.roots[0]) == expected, "\(input)")
    }
  }

  @Test func simplificationIsIdempotent() throws {
    for text in Self.examples.values.sorted() {
      let built = try #require(TestPrograms.expression(text, data: Self.data).built)
      let once = Simplifier.simplify(built.program.graph, roots: [built.node], unsafeMath: true)
      let twice = Simplifier.simplify(once.graph, roots: once.roots, unsafeMath: true)
      #expect(twice.fired.isEmpty, "\(text): second pass fired \(twice.fired)")
    }
  }
}
