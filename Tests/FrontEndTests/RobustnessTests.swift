import BilevelCore
import Testing

@testable import BilevelFrontEnd

/// Pathological inputs: each gives a bounded, located report, never a crash.
@Suite struct RobustnessTests {
  struct Outcome: Sendable {
    let statements: Int
    let messages: [String]
    let located: Bool
    let rendered: String
  }

  static func run(_ bytes: [UInt8], path: String = "big.blv") -> Outcome {
    FE.onLargeStack {
      let (program, diagnostics) = Parser.parse(SourceFile(path: path, bytes: bytes))
      // Printing walks the tree recursively too.
      _ = ASTPrinter.print(program)
      return Outcome(
        statements: program.statements.count, messages: diagnostics.map(\.message),
        located: diagnostics.allSatisfy { $0.range != nil },
        rendered: DiagnosticRenderer.render(diagnostics))
    }
  }

  static func run(_ text: String) -> Outcome { run(Array(text.utf8)) }

  static let tooDeep = Message.nestedTooDeeply(Parser.maximumDepth).text

  @Test(arguments: [
    ("parens", "let a = " + String(repeating: "(", count: 100_000) + "\n"),
    (
      "closed parens",
      "let a = " + String(repeating: "(", count: 100_000) + "1"
        + String(repeating: ")", count: 100_000)
    ),
    ("brackets", "let a = " + String(repeating: "[", count: 100_000)),
    ("calls", "let a = " + String(repeating: "f(", count: 100_000)),
    ("sum", "let a = 1" + String(repeating: "+1", count: 100_000)),
    ("product", "let a = x" + String(repeating: "*x", count: 100_000)),
    ("powers", "let a = x" + String(repeating: "^x", count: 100_000)),
    ("negations", "let a = " + String(repeating: "-", count: 100_000) + "x"),
    ("transposes", "let a = x" + String(repeating: "'", count: 100_000)),
    ("indexing", "let a = x" + String(repeating: "[1]", count: 100_000)),
    ("index nesting", "let a = " + String(repeating: "x[", count: 100_000)),
    ("over", "outer loss = " + String(repeating: "mean over t: ", count: 100_000) + "x"),
  ])
  func deepNestingIsOneError(_ name: String, _ source: String) {
    let outcome = Self.run(source)
    #expect(outcome.messages == [Self.tooDeep], "\(name)")
    #expect(outcome.located)
    #expect(outcome.rendered.hasPrefix("big.blv:1:"), "\(name)")
  }

  @Test func nestingJustUnderTheLimitParses() {
    let n = Parser.maximumDepth / 2 - 2
    let outcome = Self.run(
      "let a = " + String(repeating: "(", count: n) + "1" + String(repeating: ")", count: n))
    #expect(outcome.messages == [])
    #expect(outcome.statements == 1)
  }

  @Test func deepLineThenMoreStatements() {
    let outcome = Self.run(
      "let a = " + String(repeating: "(", count: 100_000) + "\nlet b = 1\nlet c = $\n")
    #expect(outcome.messages == [Self.tooDeep, "unexpected character '$' (U+24)"])
    #expect(outcome.statements == 1)
  }

  @Test func hugeNumbers() {
    #expect(
      Self.run("let x = 1e999\n").messages == ["number '1e999' is out of range for a 64-bit float"])
    #expect(Self.run("let x = 1" + String(repeating: "0", count: 400) + "\n").messages.count == 1)
    #expect(Self.run("let x = 1e-999\n").messages == [])  // underflows to 0, which is fine
    // A dimension too large for an Int is an elaboration error, not a trap.
    let source = "dim n = 99999999999999999999\nouter w: vector[n] = 0\n"
    let (program, syntax) = FE.parse(source)
    #expect(syntax.isEmpty)
    let (_, diagnostics) = FE.onLargeStack { Elaborator.elaborate(program) }
    #expect(diagnostics.contains { $0.severity == .error })
    #expect(diagnostics.allSatisfy { $0.range != nil })
    #expect(FE.lines(diagnostics.filter { $0.severity == .error }).first == 1)
  }

  @Test func hugeSizesAreCleanErrors() {
    for size in ["9223372036854775807", "4294967296", "1e18", "100000000"] {
      let (program, syntax) = FE.parse(
        "dim n = \(size)\ninner w: matrix[n, n] = 0\nouter v: vector[n] = 1\n")
      #expect(syntax.isEmpty)
      let (_, diagnostics) = FE.onLargeStack { Elaborator.elaborate(program) }
      #expect(diagnostics.contains { $0.severity == .error }, "\(size)")
      #expect(diagnostics.allSatisfy { $0.range != nil }, "\(size)")
    }
  }

  /// Each definition calls the previous one twice: 2^60 inlined calls unless bounded.
  @Test func exponentialInliningIsAnError() {
    var source = "dim n = 3\nouter lam: scalar = 0\ninner w: vector[n] = 0\ndef f0(x) = x\n"
    for k in 1...60 { source += "def f\(k)(x) = f\(k - 1)(x) + f\(k - 1)(x)\n" }
    source += "inner loss = sum(f60(w)^2) + lam\nouter loss = sum(w)\n"
    let (program, syntax) = FE.parse(source)
    #expect(syntax.isEmpty)
    let (_, diagnostics) = FE.onLargeStack { Elaborator.elaborate(program) }
    let errors = diagnostics.filter { $0.severity == .error }
    #expect(errors.count == 1)
    #expect(
      errors.first?.message.contains("function calls") == true,
      Comment(rawValue: DiagnosticRenderer.render(diagnostics)))
    #expect(errors.allSatisfy { $0.range != nil })
  }

  @Test func emptyAndCommentOnlyFiles() {
    for source in [
      "", "\n", "\n\n\n", "# just a comment", "# one\n# two\n\n   # three\n", "   \t  ", "\r\n\r\n",
    ] {
      let outcome = Self.run(source)
      #expect(outcome.messages == [], "\(source.debugDescription)")
      #expect(outcome.statements == 0)
    }
  }

  @Test func binaryGarbage() {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    for _ in 0..<20 {
      var bytes: [UInt8] = []
      for _ in 0..<4096 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        bytes.append(UInt8(truncatingIfNeeded: state >> 56))
      }
      let outcome = Self.run(bytes)
      #expect(outcome.located)
      #expect(!outcome.messages.isEmpty)
    }
    // Only NULs: one run, one error (not one per byte).
    #expect(Self.run([UInt8](repeating: 0, count: 1000)).messages.count == 1)
  }

  @Test func nonASCIIInStringsAndComments() {
    let outcome = Self.run("data X = csv(\"données/λ.csv\")  # ünïcödé ✓\n")
    #expect(outcome.messages == [])
    #expect(
      FE.ast("data X = csv(\"données/λ.csv\")\n") == "1:1 (data X (call csv \"données/λ.csv\"))\n")
  }

  @Test func nonASCIIIdentifiersAreRejectedOnce() {
    let outcome = Self.run("let λ = 1\nlet café = 2\nlet b = 3\n")
    #expect(outcome.messages.count == 2)
    #expect(outcome.messages.first?.hasPrefix("unexpected character 'λ' (U+3BB)") == true)
    #expect(outcome.messages.last?.hasPrefix("unexpected character 'é' (U+E9)") == true)
    #expect(outcome.statements == 1)
    #expect(outcome.rendered.contains("big.blv:2:8: error: unexpected character 'é' (U+E9)"))
    #expect(outcome.rendered.contains("\nlet café = 2\n       ^\n"))
  }

  @Test func noTrailingNewline() {
    #expect(FE.ast("dim n = 3\nlet a = n + 1") == "1:1 (dim (n 3))\n2:1 (let a (+ n 1))\n")
    #expect(FE.ast("let a = 1 # comment at the end") == "1:1 (let a 1)\n")
    let (_, diagnostics) = FE.parse("let a = (1")
    #expect(diagnostics.first?.message.hasSuffix("found end of file") == true)
    #expect(DiagnosticRenderer.render(diagnostics).hasPrefix("test.blv:1:11: error:"))
  }

  @Test func crlfLineEndings() {
    let source = "dim n = 3\r\nlet a = f(1,\r\n  2)\r\nlet b = $\r\n"
    let (program, diagnostics) = FE.parse(source)
    #expect(ASTPrinter.print(program) == "1:1 (dim (n 3))\n2:1 (let a (call f 1 2))\n")
    #expect(diagnostics.map(\.message) == ["unexpected character '$' (U+24)"])
    #expect(FE.location(diagnostics[0])! == (4, 9))
    // The rendered source line does not carry the '\r'.
    #expect(
      DiagnosticRenderer.render(diagnostics)
        == "test.blv:4:9: error: unexpected character '$' (U+24)\nlet b = $\n        ^\n")
    // A lone '\r' is blank space; the statement goes on.
    #expect(FE.ast("let a = 1 +\r 2\n") == "1:1 (let a (+ 1 2))\n")
  }
}
