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
  public static func parseREPLLine(
    _ file: SourceFile, startingAt offset: Int = 0
  ) -> (input: REPLInput?, diagnostics: [Diagnostic]) {
    var (tokens, lexDiagnostics) = Lexer.tokenize(file)
    tokens.removeAll { $0.range.start < offset }
    lexDiagnostics.removeAll { ($0.range?.start ?? 0) < offset }
    var parser = Parser(file: file, tokens: tokens)
    parser.endOfInput = "end of line"
    parser.diagnostics = lexDiagnostics
    if !lexDiagnostics.isEmpty { return (nil, lexDiagnostics) }
    var input: REPLInput? = nil
    do {
      // `outer(u, v)` at the start of a line is a call, not an `outer` declaration.
      var keywordCall = false
      if case .keyword(let k) = parser.current.kind {
        keywordCall = keywordIsCall(k, next: parser.peek(1))
      }
      if startsStatement(parser.current) && !keywordCall {
        input = .statement(try parser.parseStatement())
      } else {
        input = .expression(try parser.parseExpression())
      }
      if parser.current.kind != .newline && parser.current.kind != .end {
        throw parser.fail(
          .expected("end of line", found: parser.describe(parser.current)), at: parser.current.range
        )
      }
    } catch {
      input = nil
    }
    return (input, parser.diagnostics)
  }
}

/// `EXPR wrt x[, y] [along v[, u]]`, as the REPL's :grad, :jvp and :hvp take.
public struct DerivativeRequest: Sendable {
  public let expression: Expr
  public let wrt: [Identifier]
  public let along: [Expr]
}

extension Parser {
  public static func parseDerivativeRequest(
    _ file: SourceFile, startingAt offset: Int, needsAlong: Bool
  )
    -> (request: DerivativeRequest?, diagnostics: [Diagnostic])
  {
    var (tokens, lexDiagnostics) = Lexer.tokenize(file)
    tokens.removeAll { $0.range.start < offset }
    lexDiagnostics.removeAll { ($0.range?.start ?? 0) < offset }
    if !lexDiagnostics.isEmpty { return (nil, lexDiagnostics) }
    var parser = Parser(file: file, tokens: tokens)
    parser.endOfInput = "end of line"
    do {
      let e = try parser.parseExpression()
      guard parser.current.kind == .identifier, parser.current.text == "wrt" else {
        throw parser.fail(
          .expected(
            "'wrt' and the variables, as in ':grad sum(x^2) wrt x'",
            found: parser.describe(parser.current)), at: parser.current.range)
      }
      _ = parser.advance()
      var wrt: [Identifier] = []
      repeat {
        wrt.append(try parser.expectIdentifier("a variable to differentiate with respect to"))
      } while parser.eat(.comma)
      var along: [Expr] = []
      if parser.current.kind == .identifier, parser.current.text == "along" {
        _ = parser.advance()
        repeat { along.append(try parser.parseExpression()) } while parser.eat(.comma)
      } else if needsAlong {
        throw parser.fail(
          .expected(
            "'along' and a direction for each variable", found: parser.describe(parser.current)),
          at: parser.current.range)
      }
      if parser.current.kind != .newline && parser.current.kind != .end {
        throw parser.fail(
          .expected("end of line", found: parser.describe(parser.current)), at: parser.current.range
        )
      }
      return (DerivativeRequest(expression: e, wrt: wrt, along: along), parser.diagnostics)
    } catch {
      return (nil, parser.diagnostics)
    }
  }
}
