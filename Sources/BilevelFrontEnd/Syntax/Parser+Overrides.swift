/// Command-line overrides (`--method 'implicit(cg, iters: 5)'`, `--set n=50`)
/// parsed by the program's own grammar. The override text is its own
/// SourceFile, so its diagnostics point into the text the user typed.
extension Parser {
  /// A whole override text that must be one solver call.
  public static func parseSolverCallText(
    _ file: SourceFile
  ) -> (call: SolverCall?, diagnostics: [Diagnostic]) {
    parseWhole(file) { try $0.parseSolverCall() }
  }

  /// A whole override text that must be one expression.
  /// Tokens before `offset` (`NAME=` of `--set NAME=VALUE`) are skipped.
  public static func parseExpressionText(
    _ file: SourceFile, startingAt offset: Int = 0
  ) -> (expression: Expr?, diagnostics: [Diagnostic]) {
    parseWhole(file, startingAt: offset) { try $0.parseExpression() }
  }

  static func parseWhole<T>(
    _ file: SourceFile, startingAt offset: Int = 0, _ body: (inout Parser) throws -> T
  ) -> (T?, [Diagnostic]) {
    var (tokens, lexDiagnostics) = Lexer.tokenize(file)
    tokens.removeAll { $0.range.start < offset }
    if !lexDiagnostics.isEmpty { return (nil, lexDiagnostics) }
    var parser = Parser(file: file, tokens: tokens)
    parser.endOfInput = "end of the option's value"
    do {
      let value = try body(&parser)
      while parser.current.kind == .newline { _ = parser.advance() }
      if parser.current.kind != .end {
        throw parser.fail(
          .expected("end of the option's value", found: parser.describe(parser.current)),
          at: parser.current.range)
      }
      return (value, parser.diagnostics)
    } catch {
      return (nil, parser.diagnostics)
    }
  }
}
