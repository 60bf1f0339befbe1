import BilevelCore
import BilevelFrontEnd

/// Builds graphs from .blv text, for tests: data bound to given tensors,
/// then one expression, through the same elaborator the compiler uses.
public enum TestPrograms {
  public struct Built {
    public let program: Program
    public let node: NodeID
    public let diagnostics: [Diagnostic]
    /// The expression's value at the data's values.
    public var value: Tensor { ProgramEvaluation(initialPointOf: program).evaluate(node) }
  }

  /// `data` statements for the bindings, then `expression`; nil node on error.
  public static func expression(
    _ expression: String, data: [(String, Tensor)] = []
  ) -> (built: Built?, diagnostics: [Diagnostic]) {
    var e = Elaborator(file: SourceFile(path: "<test>", text: ""), options: CompileOptions())
    var diagnostics: [Diagnostic] = []
    for (name, tensor) in data {
      let line = "data \(name) = \(literal(tensor))"
      let (input, syntax) = Parser.parseREPLLine(SourceFile(path: "<test>", text: line))
      diagnostics += syntax
      if case .statement(let s)? = input { e.statement(s) }
    }
    let file = SourceFile(path: "<test>", text: expression)
    let (input, syntax) = Parser.parseREPLLine(file)
    diagnostics += syntax
    guard case .expression(let expr)? = input else { return (nil, diagnostics) }
    let node = e.expressionNode(expr)
    diagnostics += e.takeDiagnostics()
    guard let node else { return (nil, diagnostics) }
    return (Built(program: e.program, node: node, diagnostics: diagnostics), diagnostics)
  }

  /// A tensor as an exact .blv literal (shortest round-trip digits).
  public static func literal(_ t: Tensor) -> String {
    switch t.shape.rank {
    case 0: return "(\(formatNumber(t.scalar)))"
    case 1: return "[" + t.scalars.map(formatNumber).joined(separator: ", ") + "]"
    default:
      return "["
        + (0..<t.shape.rows).map { i in
          "[" + (0..<t.shape.columns).map { formatNumber(t[i, $0]) }.joined(separator: ", ") + "]"
        }.joined(separator: ", ") + "]"
    }
  }

  /// Seeded test tensors (the compiler's own generator).
  public static func random(_ shape: Shape, seed: UInt64, positive: Bool = false) -> Tensor {
    var t = RandomStream.normal(shape: shape, seed: seed)
    if positive { t.scalars = t.scalars.map { abs($0) + 0.5 } }
    return t
  }
}

extension TestPrograms {
  /// Data and variables of a small ridge problem, for programs that add their losses and solvers.
  public static let ridgeHeader = """
    dim n = 6, d = 3
    data X = randn(n, d, seed: 1)
    data y = randn(n, seed: 2)
    outer lam: scalar = 0
    inner w: vector[d] = 0

    """

  /// `text` parsed, then elaborated by `elaborate`; the syntax errors alone when it does not parse.
  public static func compile(
    _ text: String, _ elaborate: (SourceProgram) -> (program: Program?, diagnostics: [Diagnostic])
  )
    -> (program: Program?, diagnostics: [Diagnostic])
  {
    let (source, syntax) = Parser.parse(SourceFile(path: "test.blv", text: text))
    if !syntax.isEmpty { return (nil, syntax) }
    return elaborate(source)
  }
}

extension TestPrograms {
  /// Regularised logistic regression, d = 20 (strongly convex, condition number ≈ 10),
  /// with the given inner solver, implicit(exact) and `outerSteps` gd steps.
  public static func logistic(innerSolver: String, outerSteps: Int) -> String {
    """
    dim n = 200, d = 20
    data X = randn(n, d, seed: 71)
    data y = sigmoid(X @ randn(d, seed: 72) + 0.5 * randn(n, seed: 73))
    outer loglam: scalar = -1
    inner w: vector[d] = 0
    inner loss = mean(softplus(X @ w) - y * (X @ w)) + 0.5 * exp(loglam) * sum(w^2)
    outer loss = sum(w^2)
    solve inner with \(innerSolver)
    hypergradient with implicit(exact)
    solve outer with gd(lr: 0.1, steps: \(outerSteps))
    """
  }
}
