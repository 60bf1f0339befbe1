import Foundation
import Testing

@testable import BilevelFrontEnd

/// Small shared helpers for the front-end tests.
enum FE {
  static func file(_ text: String, path: String = "test.blv") -> SourceFile {
    SourceFile(path: path, text: text)
  }

  static func parse(
    _ text: String, path: String = "test.blv"
  ) -> (program: SourceProgram, diagnostics: [Diagnostic]) {
    Parser.parse(file(text, path: path))
  }

  /// The `--emit ast` text of a program, or the rendered diagnostics.
  static func ast(_ text: String) -> String {
    let (program, diagnostics) = parse(text)
    if !diagnostics.isEmpty { return DiagnosticRenderer.render(diagnostics) }
    return ASTPrinter.print(program)
  }

  /// The S-expression of one expression, parsed as `let a = TEXT`.
  static func expr(_ text: String) -> String {
    let (program, diagnostics) = parse("let a = " + text + "\n")
    guard diagnostics.isEmpty, program.statements.count == 1,
      case .letBinding(_, _, let value) = program.statements[0].kind
    else { return "error: " + DiagnosticRenderer.render(diagnostics) }
    return ASTPrinter.expr(value)
  }

  /// Line numbers of the diagnostics, in order.
  static func lines(_ diagnostics: [Diagnostic]) -> [Int] {
    diagnostics.map { $0.range.map { $0.file.lineAndColumn(of: $0.start).line } ?? -1 }
  }

  static func location(_ d: Diagnostic) -> (line: Int, column: Int)? {
    d.range.map { $0.file.lineAndColumn(of: $0.start) }
  }

  static func tokens(_ text: String) -> (tokens: [Token], diagnostics: [Diagnostic]) {
    Lexer.tokenize(file(text))
  }

  /// Runs `body` on a thread with a 512 MB stack, as the executable does.
  static func onLargeStack<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
    LargeStack.run(body)
  }
}
