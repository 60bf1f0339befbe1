/// The abstract syntax tree: what the program says, before names and shapes
/// are checked. Every node carries its source range.

/// `over trajectory` or `over trajectory(weights: w)` after the outer loss.
public struct TrajectoryClause: Sendable {
  public let range: SourceRange
  /// The data vector of w_t (t = 1 … T); nil: w_t = 1.
  public let weights: Identifier?
  public init(range: SourceRange, weights: Identifier?) {
    self.range = range
    self.weights = weights
  }
}

public struct Identifier: Sendable {
  public let name: String
  public let range: SourceRange
  public init(name: String, range: SourceRange) {
    self.name = name
    self.range = range
  }
}

public struct Expr: Sendable {
  public indirect enum Kind: Sendable {
    case number(Double, isInteger: Bool)
    case string(String)
    case name(String)
    case negate(Expr)
    case binary(BinaryOperator, Expr, Expr)
    case transpose(Expr)
    case call(callee: Identifier, arguments: [Argument])
    case index(Expr, [IndexItem])
    case array([Expr])
    /// `mean over t: body` — a reduction over the tasks.
    case over(reduction: Identifier, index: Identifier, body: Expr)
  }

  public let kind: Kind
  public let range: SourceRange
  /// Height of the tree below this node; the parser bounds it.
  public let depth: Int
  public init(_ kind: Kind, _ range: SourceRange, depth: Int) {
    self.kind = kind
    self.range = range
    self.depth = depth
  }
}

public enum BinaryOperator: String, Sendable, CaseIterable {
  case add = "+", subtract = "-", multiply = "*", divide = "/", matmul = "@", power = "^"
}

public struct Argument: Sendable {
  public let label: Identifier?
  public let value: Expr
  public init(label: Identifier?, value: Expr) {
    self.label = label
    self.value = value
  }
  public var range: SourceRange { label.map { $0.range.union(value.range) } ?? value.range }
}

/// One position inside `x[...]`: `i`, `:`, or `a:b` (1-based, inclusive).
public enum IndexItem: Sendable {
  case at(Expr)
  case all(SourceRange)
  case slice(lower: Expr?, upper: Expr?, SourceRange)

  public var range: SourceRange {
    switch self {
    case .at(let e): return e.range
    case .all(let r), .slice(_, _, let r): return r
    }
  }
}

public struct TypeExpr: Sendable {
  public enum Kind: String, Sendable { case scalar, vector, matrix }
  public let kind: Kind
  public let sizes: [Expr]
  public let range: SourceRange
}

public enum Level: String, Sendable { case inner, outer }

/// `name(args)` in a solve or hypergradient statement.
public struct SolverCall: Sendable {
  public let name: Identifier
  public let arguments: [Argument]
  public let range: SourceRange
}

public struct Statement: Sendable {
  public enum Kind: Sendable {
    case dims([(name: Identifier, value: Expr)])
    case tasks(index: Identifier, lower: Expr, upper: Expr)
    case data(name: Identifier, task: Identifier?, type: TypeExpr?, value: Expr)
    case variable(
      level: Level, name: Identifier, task: Identifier?, type: TypeExpr, initial: Expr,
      bounds: (lower: Expr, upper: Expr)?)
    case letBinding(name: Identifier, task: Identifier?, value: Expr)
    case function(name: Identifier, parameters: [Identifier], body: Expr)
    /// `trajectory`: `over trajectory` (eq. 12's Σ_t over the inner steps) as written.
    case loss(level: Level, task: Identifier?, value: Expr, trajectory: TrajectoryClause? = nil)
    case fixpoint(variable: Identifier, task: Identifier?, value: Expr)
    case solve(level: Level, SolverCall)
    case hypergradient(SolverCall)
    /// `report NAME = EXPR`: a metric evaluated at the start, each outer step and the end.
    case report(name: Identifier, value: Expr)
    /// `batch NAME = rows(n, size: k, seed: s, per: inner_step)`: a seeded minibatch stream.
    case batch(name: Identifier, value: Expr)
    /// `episodes s[t], q[t] = classes(y, ways: N, shots: K, queries: Q, pool: P, seed: s)`.
    case episodes(support: Identifier, query: Identifier, task: Identifier?, value: Expr)
    /// `state h: TYPE = INIT then NEXT`: recurrent state of a `rule` solver,
    /// per coordinate of its inner variable; NEXT is its value after a step.
    case ruleState(name: Identifier, task: Identifier?, type: TypeExpr, initial: Expr, next: Expr)
    /// `proxy w = EXPR with params A: TYPE = INIT, ...`: θ ≈ P_α(φ) (survey §4.2, eq. 33).
    case proxy(variable: Identifier, value: Expr, parameters: [ProxyParameter])
  }

  public let kind: Kind
  public let range: SourceRange
  /// The range to point at when the statement as a whole is the problem.
  public let keywordRange: SourceRange

  public init(kind: Kind, range: SourceRange, keywordRange: SourceRange) {
    self.kind = kind
    self.range = range
    self.keywordRange = keywordRange
  }
}

/// One parameter α of a proxy: a name local to the proxy's expression.
public struct ProxyParameter: Sendable {
  public let name: Identifier
  public let type: TypeExpr
  public let initial: Expr
  public init(name: Identifier, type: TypeExpr, initial: Expr) {
    self.name = name
    self.type = type
    self.initial = initial
  }
}

public struct SourceProgram: Sendable {
  public let file: SourceFile
  public let statements: [Statement]

  public init(file: SourceFile, statements: [Statement]) {
    self.file = file
    self.statements = statements
  }
}
