/// The `--emit ast` text: one S-expression per statement, prefixed by its
/// line and column (grammar/emit.ebnf). Shows exactly how the parser
/// grouped the program.
public enum ASTPrinter {
  public static func print(_ program: SourceProgram) -> String {
    var out = ""
    for s in program.statements {
      let (line, column) = s.range.file.lineAndColumn(of: s.range.start)
      out += "\(line):\(column) \(statement(s))\n"
    }
    return out
  }

  static func statement(_ s: Statement) -> String {
    switch s.kind {
    case .dims(let ds):
      return "(dim " + ds.map { "(\($0.name.name) \(expr($0.value)))" }.joined(separator: " ") + ")"
    case .tasks(let index, let lower, let upper):
      return "(tasks \(index.name) \(expr(lower)) \(expr(upper)))"
    case .data(let name, let task, let type, let value):
      return "(data \(named(name, task))\(type.map { " " + typeText($0) } ?? "") \(expr(value)))"
    case .variable(let level, let name, let task, let type, let initial, let bounds):
      let b = bounds.map { " (in \(expr($0.lower)) \(expr($0.upper)))" } ?? ""
      return "(\(level.rawValue) \(named(name, task)) \(typeText(type)) \(expr(initial))\(b))"
    case .letBinding(let name, let task, let value):
      return "(let \(named(name, task)) \(expr(value)))"
    case .function(let name, let parameters, let body):
      return "(def \(name.name) (\(parameters.map(\.name).joined(separator: " "))) \(expr(body)))"
    case .loss(let level, let task, let value, let trajectory):
      let weights = trajectory?.weights.map { " (weights \($0.name))" } ?? ""
      let over = trajectory == nil ? "" : " over-trajectory\(weights)"
      return "(\(level.rawValue)-loss\(task.map { " [\($0.name)]" } ?? "")\(over) \(expr(value)))"
    case .fixpoint(let variable, let task, let value):
      return "(inner-fixpoint \(named(variable, task)) \(expr(value)))"
    case .solve(let level, let call):
      return "(solve \(level.rawValue) \(solverCall(call)))"
    case .hypergradient(let call):
      return "(hypergradient \(solverCall(call)))"
    case .report(let name, let value):
      return "(report \(name.name) \(expr(value)))"
    case .batch(let name, let value):
      return "(batch \(name.name) \(expr(value)))"
    case .episodes(let support, let query, let task, let value):
      return "(episodes \(named(support, task)) \(named(query, task)) \(expr(value)))"
    case .ruleState(let name, let task, let type, let initial, let next):
      return "(state \(named(name, task)) \(typeText(type)) \(expr(initial)) (then \(expr(next))))"
    case .proxy(let variable, let value, let parameters):
      let params = parameters.map { "(\($0.name.name) \(typeText($0.type)) \(expr($0.initial)))" }
      return
        "(proxy \(variable.name) \(expr(value))\(params.isEmpty ? "" : " (params " + params.joined(separator: " ") + ")"))"
    }
  }

  static func named(_ name: Identifier, _ task: Identifier?) -> String {
    task.map { "(\(name.name) [\($0.name)])" } ?? name.name
  }

  static func typeText(_ t: TypeExpr) -> String {
    t.sizes.isEmpty
      ? t.kind.rawValue : "(\(t.kind.rawValue) \(t.sizes.map(expr).joined(separator: " ")))"
  }

  static func solverCall(_ c: SolverCall) -> String {
    "(\(([c.name.name] + c.arguments.map(argument)).joined(separator: " ")))"
  }

  static func argument(_ a: Argument) -> String {
    a.label.map { "(\($0.name): \(expr(a.value)))" } ?? expr(a.value)
  }

  /// Iterative over the bounded-depth tree would be overkill: the parser
  /// caps nesting at `Parser.maximumDepth`.
  public static func expr(_ e: Expr) -> String {
    switch e.kind {
    case .number: return e.range.text
    case .string(let s): return "\"\(s)\""
    case .name(let n): return n
    case .negate(let x): return "(neg \(expr(x)))"
    case .binary(let op, let a, let b): return "(\(op.rawValue) \(expr(a)) \(expr(b)))"
    case .transpose(let x): return "(' \(expr(x)))"
    case .call(let callee, let args):
      return "(call \(([callee.name] + args.map(argument)).joined(separator: " ")))"
    case .index(let base, let items):
      return "(index \(expr(base)) \(items.map(item).joined(separator: " ")))"
    case .array(let xs): return "[" + xs.map(expr).joined(separator: " ") + "]"
    case .over(let r, let i, let body): return "(\(r.name)-over \(i.name) \(expr(body)))"
    }
  }

  static func item(_ i: IndexItem) -> String {
    switch i {
    case .at(let e): return expr(e)
    case .all: return ":"
    case .slice(let lo, let hi, _): return "(: \(lo.map(expr) ?? "_") \(hi.map(expr) ?? "_"))"
    }
  }
}
