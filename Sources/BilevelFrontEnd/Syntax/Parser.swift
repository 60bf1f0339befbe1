/// A hand-written recursive-descent parser with a Pratt loop for expressions.
/// Errors are collected, and parsing resumes at the next statement, so a file
/// with three mistakes reports three.
public struct Parser {
  let file: SourceFile
  var tokens: [Token]
  var index = 0
  /// Open brackets around the current token: newlines inside them continue the line.
  var bracketDepth = 0
  var diagnostics: [Diagnostic] = []
  /// A REPL entry is one line: its end is the end of the line, not of a file.
  var endOfInput = "end of file"
  /// Set by an operator that ends a line: the next line is its lost
  /// continuation, so recovery skips it rather than reporting it again.
  var skipContinuationLine = false

  /// Deeper nesting is an error rather than a stack overflow.
  public static let maximumDepth = 200

  struct Abort: Error {}

  public static func parse(
    _ file: SourceFile
  ) -> (program: SourceProgram, diagnostics: [Diagnostic]) {
    let (tokens, lexDiagnostics) = Lexer.tokenize(file)
    var parser = Parser(file: file, tokens: tokens)
    parser.diagnostics = lexDiagnostics
    let statements = parser.parseProgram()
    // Lexer and parser errors interleave by position.
    let sorted = parser.diagnostics.enumerated().sorted {
      let a = $0.element.range?.start ?? 0
      let b = $1.element.range?.start ?? 0
      return a != b ? a < b : $0.offset < $1.offset
    }.map(\.element)
    return (SourceProgram(file: file, statements: statements), sorted)
  }

  var current: Token { tokens[index] }
  func peek(_ k: Int) -> Token { tokens[min(index + k, tokens.count - 1)] }

  mutating func advance() -> Token {
    let t = tokens[index]
    if index < tokens.count - 1 { index += 1 }
    skipContinuationNewlines()
    return t
  }

  /// Blank lines count too: a bracket left open before blank lines and then
  /// a statement (or the end of the file) is reported at the end of its own
  /// line, not on a blank one.
  mutating func skipContinuationNewlines() {
    guard bracketDepth > 0, current.kind == .newline else { return }
    var k = index
    while k < tokens.count - 1, tokens[k].kind == .newline { k += 1 }
    // `outer(u, v)` and `solve(A, b)` continue an expression; `outer x: ...` starts a statement.
    let call =
      k + 1 < tokens.count && tokens[k + 1].kind == .symbol(.leftParen)
      && (tokens[k].kind == .keyword(.outer) || tokens[k].kind == .keyword(.solve))
    if (call || !Parser.startsStatement(tokens[k])) && tokens[k].kind != .end { index = k }
  }

  static func startsStatement(_ t: Token) -> Bool {
    if case .keyword(let k) = t.kind {
      switch k {
      case .dim, .data, .outer, .inner, .let, .def, .solve, .hypergradient, .tasks, .report:
        return true
      default: return false
      }
    }
    return false
  }

  func at(_ s: Symbol) -> Bool { current.kind == .symbol(s) }
  func at(_ k: Keyword) -> Bool { current.kind == .keyword(k) }

  mutating func eat(_ s: Symbol) -> Bool {
    if at(s) {
      _ = advance()
      return true
    }
    return false
  }

  mutating func eat(_ k: Keyword) -> Bool {
    if at(k) {
      _ = advance()
      return true
    }
    return false
  }

  mutating func expect(_ s: Symbol, _ context: String) throws -> Token {
    if at(s) { return advance() }
    throw fail(.expected("'\(s.rawValue)' \(context)", found: describe(current)), at: current.range)
  }

  mutating func expect(_ k: Keyword, _ context: String) throws -> Token {
    if at(k) { return advance() }
    throw fail(.expected("'\(k.rawValue)' \(context)", found: describe(current)), at: current.range)
  }

  mutating func expectIdentifier(_ what: String) throws -> Identifier {
    if current.kind == .identifier {
      let t = advance()
      return Identifier(name: t.text, range: t.range)
    }
    if case .keyword(let k) = current.kind {
      throw fail(.reservedWord(k.rawValue, what), at: current.range)
    }
    throw fail(.expected(what, found: describe(current)), at: current.range)
  }

  /// Records an error and returns the value to throw, unwinding to the statement loop.
  mutating func fail(_ m: Message, at r: SourceRange) -> Abort {
    // An invalid token already has its own diagnostic from the lexer.
    if current.kind != .invalid || r.start != current.range.start {
      diagnostics.append(.error(m, at: r))
    }
    return Abort()
  }

  func describe(_ t: Token) -> String {
    t.kind == .end ? endOfInput : Parser.describe(t)
  }

  static func describe(_ t: Token) -> String {
    switch t.kind {
    case .newline: return "end of line"
    case .end: return "end of file"
    case .string: return "string \(t.text)"
    case .number: return "number '\(t.text)'"
    case .identifier: return "name '\(t.text)'"
    case .keyword(let k): return "keyword '\(k.rawValue)'"
    case .symbol, .invalid: return "'\(t.text)'"
    }
  }

  func range(from start: SourceRange) -> SourceRange {
    let last = tokens[max(0, index - 1)]
    return SourceRange(file: file, start: start.start, end: max(start.end, last.range.end))
  }

  mutating func parseProgram() -> [Statement] {
    var statements: [Statement] = []
    while current.kind != .end {
      if current.kind == .newline {
        _ = advance()
        continue
      }
      bracketDepth = 0
      do {
        let s = try parseStatement()
        if current.kind != .newline && current.kind != .end {
          throw fail(
            .expected("end of line after the statement", found: describe(current)),
            at: current.range)
        }
        statements.append(s)
      } catch {
        synchronize()
      }
    }
    return statements
  }

  /// Skips to the start of the next line.
  mutating func synchronize() {
    bracketDepth = 0
    while current.kind != .newline && current.kind != .end { index += 1 }
    if skipContinuationLine {
      skipContinuationLine = false
      while current.kind == .newline { index += 1 }
      if !Parser.startsStatement(current) {
        while current.kind != .newline && current.kind != .end { index += 1 }
      }
    }
  }
}
