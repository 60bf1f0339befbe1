/// One line typed at the REPL: a statement or an expression.
public enum REPLInput: Sendable {
  case statement(Statement)
  case expression(Expr)
}

extension Parser {
  /// Parses a REPL line: a statement when it starts with a statement
  /// keyword, otherwise one expression filling the line.
  /// Tokens before `offset` (a REPL command word) are skipped, so columns
  /// still count from the start of the typed line.
  public static func parseREPLLine(_ file: SourceFile, startingAt offset: Int = 0) -> (input: REPLInput?, diagnostics: [Diagnostic]) {
    var (tokens, lexDiagnostics) = Lexer.tokenize(file)
    tokens.removeAll { $0.range.start < offset }
    lexDiagnostics.removeAll { ($0.range?.start ?? 0) < offset }
    var parser = Parser(file: file, tokens: tokens)
    parser.diagnostics = lexDiagnostics
    if !lexDiagnostics.isEmpty { return (nil, lexDiagnostics) }
    var input: REPLInput? = nil
    do {
      // `outer(u, v)` at the start of a line is a call, not an `outer` declaration.
      var keywordCall = false
      if case .keyword(let k) = parser.current.kind { keywordCall = keywordIsCall(k, next: parser.peek(1)) }
      if startsStatement(parser.current) && !keywordCall {
        input = .statement(try parser.parseStatement())
      } else {
        input = .expression(try parser.parseExpression())
      }
      if parser.current.kind != .newline && parser.current.kind != .end {
        throw parser.fail(.expected("end of line", found: describe(parser.current)), at: parser.current.range)
      }
    } catch {
      input = nil
    }
    return (input, parser.diagnostics)
  }
}
