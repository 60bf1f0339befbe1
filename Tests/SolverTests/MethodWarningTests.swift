import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import TestSupport
import Testing

/// The compile-time warnings before a result misleads: a hypergradient that
/// is identically zero for the chosen method, and a kink under an implicit method.
@Suite struct MethodWarningTests {
  static func program(
    inner: String, method: String, solver: String = "gd(lr: 0.05, steps: 50)"
  ) -> String {
    """
    dim n = 30, d = 5
    data X = randn(n, d, seed: 1)
    data y = randn(n, seed: 2)
    outer lam: scalar = 0.1
    inner w: vector[d] = 0
    inner loss = mean((X @ w - y)^2) + \(inner)
    outer loss = mean((X @ w - y)^2)
    solve inner with \(solver)
    hypergradient with \(method)
    solve outer with gd(lr: 0.1, steps: 2)
    """
  }

  static func warnings(_ text: String) -> [String] {
    let (source, syntax) = Parser.parse(SourceFile(path: "w.blv", text: text))
    #expect(syntax.isEmpty)
    let (_, diagnostics) = MethodDiagnostics.elaborate(source)
    return diagnostics.filter { $0.severity == .warning }.map(\.message)
  }

  @Test func firstOrderCannotSeeAVariableOnlyInTheInnerLoss() throws {
    let text = Self.program(inner: "lam * sum(w^2)", method: "first_order")
    let w = Self.warnings(text)
    #expect(
      w.count == 1 && w[0].contains("'lam'") && w[0].contains("identically zero")
        && w[0].contains("implicit"), "\(w)")
    // And it is zero: the method's hypergradient in lam is 0 where unroll's is not.
    let problem = try SolverFixtures.problem(text)
    let phi = problem.initialOuter()
    #expect(try problem.hypergradient(.firstOrder, at: phi).gradient == [0])
    #expect(
      abs(try problem.hypergradient(.unrollReverse(checkpoints: nil), at: phi).gradient[0]) > 1e-4)
    #expect(Self.warnings(Self.program(inner: "lam * sum(w^2)", method: "unroll")).isEmpty)
  }

  @Test func evogradCannotSeeTheStartingPoint() {
    let text = Self.program(inner: "0.1 * sum(w^2)", method: "evograd(samples: 4)")
      .replacingOccurrences(of: "inner w: vector[d] = 0", with: "inner w: vector[d] = lam")
    let w = Self.warnings(text)
    #expect(
      w.count == 1 && w[0].contains("'lam'") && w[0].contains("evograd")
        && w[0].contains("unroll(reverse) sees it"), "\(w)")
  }

  @Test(arguments: ["abs(w)", "relu(w)", "max(w)"])
  func aKinkInTheInnerLossWarnsUnderImplicit(_ kink: String) {
    let w = Self.warnings(Self.program(inner: "lam * sum(\(kink))", method: "implicit(cg)"))
    #expect(w.count == 1 && w[0].contains("not smooth") && w[0].contains("implicit(cg)"), "\(w)")
    #expect(
      Self.warnings(Self.program(inner: "lam * sum(\(kink))", method: "unroll")).isEmpty,
      "unroll differentiates the steps")
  }

  @Test func aKinkOnlyInTheDataDoesNotWarn() {
    let text = Self.program(inner: "lam * sum(w^2) + 0 * sum(abs(X))", method: "implicit(cg)")
    #expect(Self.warnings(text).isEmpty)
  }
}
