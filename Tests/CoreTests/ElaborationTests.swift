import BilevelFrontEnd
import TestSupport
import Testing

@testable import BilevelCore

@Suite struct ElaborationTests {
  static func compile(_ text: String) -> (program: Program?, diagnostics: [Diagnostic]) {
    TestPrograms.compile(text) { Elaborator.elaborate($0) }
  }

  static let header = TestPrograms.ridgeHeader
  static let solvers = """

    solve inner with gd(lr: 0.1, steps: 10)
    hypergradient with implicit(cg, iters: 5)
    solve outer with gd(lr: 0.1, steps: 3)
    """

  static func messages(_ ds: [Diagnostic]) -> [String] {
    ds.map { "\($0.severity.rawValue): \($0.message)" }
  }

  @Test func functionsAreInlinedAndCheckedAtEachCall() throws {
    let (p, ds) = Self.compile(
      Self.header + """
        def sq(v) = sum(v^2)
        inner loss = sq(X @ w - y) + exp(lam) * sq(w)
        outer loss = sq(w - 1)
        """ + Self.solvers)
    #expect(ds.isEmpty, "\(Self.messages(ds))")
    let program = try #require(p)
    // The same def at vector[6] and vector[3]: two different sum nodes.
    let sums = program.graph.reachable(from: program.roots).filter {
      program.graph[$0].op == .reduce(.sum, .all)
    }
    #expect(sums.count == 3)
  }

  @Test func perTaskProgramEvaluatesPerTaskAndAverages() throws {
    let (p, ds) = Self.compile(
      """
      tasks t in 1..4
      data a[t] = randn(3, seed: t)
      outer W: vector[3] = 1
      inner V[t]: vector[3] = W + a[t]
      inner loss[t] = sum((V[t] - a[t])^2)
      outer loss = mean over t: sum(V[t]^2)
      solve inner with gd(lr: 0.1, steps: 2)
      hypergradient with unroll(reverse)
      solve outer with gd(lr: 0.1, steps: 3)
      """)
    #expect(ds.isEmpty, "\(Self.messages(ds))")
    let program = try #require(p)
    let e = ProgramEvaluation(initialPointOf: program)
    // V[t] starts at W + a[t], so the outer loss is the mean of ‖1 + a_t‖².
    var expected = 0.0
    for t in 1...4 {
      let a = RandomStream.normal(shape: .vector(3), seed: UInt64(t))
      expected += a.scalars.reduce(0) { $0 + (1 + $1) * (1 + $1) } / 4
    }
    let outer = e.evaluate(program.outerLoss!).scalar
    #expect(abs(outer - expected) < 1e-12)
    // The inner loss varies by task: ‖W‖² = 3 for every task here.
    #expect(e.isPerTask(program.innerLoss!))
    for t in 0..<4 { #expect(abs(e.evaluate(program.innerLoss!, task: t).scalar - 3) < 1e-12) }
  }

  @Test func polynomialDegreeFindsTheNonQuadraticTerm() throws {
    let cases: [(String, Int, String?)] = [
      ("sum((X @ w - y)^2) + exp(lam) * sum(w^2)", 2, nil),
      ("sum(w^2) + sum(exp(w))", PolynomialDegree.notPolynomial, "exp(w)"),
      ("sum(w)", 1, nil),
      ("sum(w^2)^2", 4, "sum(w^2)^2"),
      ("sum(solve(X' @ X + eye(d), w))", 1, nil),
      ("sum(w * w) / (1 + lam^2)", 2, nil),
    ]
    for (loss, degree, term) in cases {
      let (p, ds) = Self.compile(
        Self.header + "inner loss = \(loss)\nouter loss = sum(w^2)" + Self.solvers)
      let program = try #require(p, "\(loss): \(Self.messages(ds))")
      let a = PolynomialDegree.analyse(program.graph, root: program.innerLoss!) { op in
        if case .variable(let i) = op { return program.variables[i].level == .inner }
        return false
      }
      #expect(a.degree == degree, "\(loss)")
      #expect(a.firstNonQuadratic.flatMap { program.graph.origin($0)?.text } == term, "\(loss)")
    }
  }

  @Test func structureWarningsNameTheVariableAndTheLoss() {
    let (_, ds) = Self.compile(
      """
      data y = randn(4, seed: 1)
      outer lam: scalar = 0
      outer unused: scalar = 0
      inner w: vector[4] = 0
      inner loss = sum((w - y)^2) + lam * sum(w^2)
      outer loss = lam^2
      """ + Self.solvers)
    let m = Self.messages(ds)
    #expect(m.contains { $0.hasPrefix("warning: outer variable 'unused'") })
    #expect(
      m.contains { $0.hasPrefix("warning: the outer loss does not depend on any inner variable") })
    #expect(!m.contains { $0.hasPrefix("error") }, "\(m)")
  }

  @Test func threeMistakesGiveThreeErrors() {
    let (_, ds) = Self.compile(
      """
      data X = randn(3, 2, seed: 1)
      let a = X @ X
      let b = lamda + 1
      let c = sum(X, axis: 2)
      """)
    #expect(
      Self.messages(ds) == [
        "error: cannot multiply matrix[3, 2] by matrix[3, 2]: inner sizes 2 and 3 differ",
        "error: undefined name 'lamda'",
        "error: axes are named, not numbered: 'rows' or 'columns'",
      ])
  }

  /// A name bound for one sub-expression (a rule's 'grad') is gone after it,
  /// and the file's own binding of that name is untouched; the dimensions of
  /// one statement see each other.
  @Test func namesBoundForASubexpressionEndWithIt() throws {
    let (p, ds) = Self.compile(
      """
      dim n = 3, d = 2 * n - 3
      data X = randn(n, d, seed: 1)
      data y = randn(n, seed: 2)
      data grad = 2
      outer lam: scalar = 0
      inner w: vector[d] = 0
      inner loss = sum((X @ w - y)^2) + exp(lam) * sum(w^2)
      solve inner with rule(update: -0.1 * grad, steps: 5)
      outer loss = grad * sum(w^2)
      hypergradient with unroll(reverse)
      solve outer with gd(lr: 0.1, steps: 3)
      """)
    #expect(ds.isEmpty, "\(Self.messages(ds))")
    let program = try #require(p)
    #expect(program.variables[1].shape == .vector(3))
    let outerLeaves = program.graph.reachable(from: [program.outerLoss!]).map {
      program.graph[$0].op
    }
    #expect(outerLeaves.contains(.data(2)))
    #expect(!outerLeaves.contains { if case .input = $0 { return true } else { return false } })
  }
}
