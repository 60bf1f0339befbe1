import Testing

@testable import BilevelFrontEnd

@Suite struct LexerTests {
  typealias K = Token.Kind

  /// Kinds and spellings, without the final `.end`.
  func lex(_ text: String) -> [(K, String)] {
    let (tokens, _) = FE.tokens(text)
    #expect(tokens.last?.kind == .end)
    return tokens.dropLast().map { ($0.kind, $0.text) }
  }

  func kinds(_ text: String) -> [K] { lex(text).map(\.0) }
  func texts(_ text: String) -> [String] { lex(text).map(\.1) }
  func messages(_ text: String) -> [String] { FE.tokens(text).diagnostics.map(\.message) }

  @Test func everySymbol() {
    let text = Symbol.allCases.map(\.rawValue).joined(separator: " ")
    #expect(kinds(text) == Symbol.allCases.map { K.symbol($0) })
    #expect(messages(text).isEmpty)
    // Without spaces too: no symbol swallows its neighbour.
    #expect(kinds("+-*/@^'()[],:=..") == Symbol.allCases.map { K.symbol($0) })
  }

  /// A byte-order mark (as some editors save) is skipped, as in a CSV file,
  /// and columns on the first line count from after it.
  @Test func byteOrderMarkIsSkipped() {
    #expect(texts("\u{FEFF}dim n = 3") == ["dim", "n", "=", "3"])
    #expect(messages("\u{FEFF}dim n = 3").isEmpty)
    let file = SourceFile(path: "p.blv", text: "\u{FEFF}dim n = $")
    let (_, diagnostics) = Lexer.tokenize(file)
    let d = try! #require(diagnostics.first)
    #expect(file.lineAndColumn(of: d.range!.start) == (1, 9))
    let rendered = DiagnosticRenderer.render([d])
    #expect(rendered.hasPrefix("p.blv:1:9: error:"))
    #expect(rendered.contains("\ndim n = $\n        ^\n"))
  }

  @Test func everyKeyword() {
    for k in Keyword.allCases {
      #expect(kinds(k.rawValue) == [.keyword(k)], "\(k)")
    }
  }

  @Test func keywordsAndIdentifiers() {
    // Keywords match whole words only, and case-sensitively.
    #expect(
      kinds("dims Dim inner_w let2 _x x_1 overt in") == [
        .identifier, .identifier, .identifier, .identifier, .identifier, .identifier, .identifier,
        .keyword(.in),
      ])
    #expect(texts("x_1 _ __y") == ["x_1", "_", "__y"])
    #expect(kinds("mean over t") == [.identifier, .keyword(.over), .identifier])
  }

  @Test func numbers() {
    for n in ["1", "1.5", ".5", "1e-10", "1E+3", "2.5e3", "1_000", "0", "007", "1.", "1_000.000_1"]
    {
      #expect(kinds(n) == [.number], "\(n)")
      #expect(texts(n) == [n], "\(n)")
      #expect(messages(n).isEmpty, "\(n)")
    }
  }

  @Test func numberRangeIsNumberDotDotNumber() {
    #expect(lex("1..5").map(\.1) == ["1", "..", "5"])
    #expect(kinds("1..5") == [.number, .symbol(.dotDot), .number])
    #expect(kinds("1 .. 5") == [.number, .symbol(.dotDot), .number])
    #expect(kinds("n..m") == [.identifier, .symbol(.dotDot), .identifier])
    // `1...5` reads as `1.` then `..5`? No: a '.' before '..' is not a fraction.
    #expect(texts("1..M") == ["1", "..", "M"])
  }

  @Test func exponentNeedsDigits() {
    // `1e` and `2x` are typos, not a number and a name.
    #expect(kinds("1e") == [.invalid])
    #expect(messages("1e") == ["malformed number '1e'"])
    #expect(kinds("2x") == [.invalid])
    #expect(messages("2x") == ["malformed number '2x'"])
    #expect(messages("1e+").count == 1)
  }

  @Test func newlinesAreTokens() {
    #expect(kinds("a\nb\n") == [.identifier, .newline, .identifier, .newline])
    #expect(kinds("a\r\nb") == [.identifier, .newline, .identifier])
    #expect(kinds("\t a \t") == [.identifier])
  }

  @Test func comments() {
    #expect(kinds("x # a comment ( [ \" λ\ny") == [.identifier, .newline, .identifier])
    #expect(kinds("# only a comment") == [])
    #expect(kinds("#\n#\n") == [.newline, .newline])
    #expect(messages("# λ \u{FF} $ junk in a comment").isEmpty)
    #expect(kinds("x#glued") == [.identifier])
  }

  @Test func strings() {
    #expect(lex("\"sin/xs_{t}.csv\"").map(\.0) == [.string])
    #expect(texts("csv(\"a b.csv\")") == ["csv", "(", "\"a b.csv\"", ")"])
    #expect(kinds("\"\"") == [.string])
    #expect(kinds("\"héllo λ\"") == [.string])
    #expect(messages("\"# not a comment\"").isEmpty)
  }

  @Test func unterminatedStringStopsAtLineEnd() {
    let (tokens, diagnostics) = FE.tokens("data X = csv(\"x.csv\nlet y = 1")
    #expect(diagnostics.map(\.message) == [Message.unterminatedString.text])
    #expect(FE.location(diagnostics[0])! == (1, 14))
    #expect(tokens.contains { $0.kind == .keyword(.let) })
    #expect(tokens.filter { $0.kind == .newline }.count == 1)
  }

  @Test func asciiJunk() {
    for c in ["$", "!", ";", "{", "}", "?", "&", "|", "~", "`", "\\", "%", "<", ">", "."] {
      let (tokens, diagnostics) = FE.tokens("a \(c) b")
      #expect(tokens.map(\.kind) == [.identifier, .invalid, .identifier, .end], "\(c)")
      #expect(diagnostics.count == 1, "\(c)")
      let code = String(c.unicodeScalars.first!.value, radix: 16, uppercase: true)
      #expect(diagnostics.first?.message == "unexpected character '\(c)' (U+\(code))")
      #expect(FE.location(diagnostics[0])! == (1, 3))
    }
  }

  @Test func multiByteCharacterReportedOnce() {
    let (tokens, diagnostics) = FE.tokens("let y = λ + 1")
    #expect(diagnostics.count == 1)
    #expect(diagnostics[0].message.hasPrefix("unexpected character 'λ' (U+3BB)"))
    #expect(FE.location(diagnostics[0])! == (1, 9))
    #expect(diagnostics[0].range!.end - diagnostics[0].range!.start == 2)
    #expect(tokens.filter { $0.kind == .invalid }.count == 1)
    // A four-byte character is one token too.
    #expect(messages("🙂").map { $0.hasPrefix("unexpected character '🙂' (U+1F642)") } == [true])
    // A run of the same character is one error; different ones are two.
    #expect(messages("λλ").count == 1)
    #expect(messages("λ🙂").count == 2)
  }

  @Test func invalidUTF8Bytes() {
    let file = SourceFile(path: "b.blv", bytes: Array("a ".utf8) + [0xFF, 0xFE] + Array(" b".utf8))
    let (tokens, diagnostics) = Lexer.tokenize(file)
    #expect(tokens.map(\.kind) == [.identifier, .invalid, .invalid, .identifier, .end])
    #expect(
      diagnostics.map(\.message) == [
        "unexpected character byte 0xFF", "unexpected character byte 0xFE",
      ])
    #expect(diagnostics.map { FE.location($0)!.column } == [3, 4])
    // A lone continuation byte, and a truncated sequence before ASCII.
    let lone = Lexer.tokenize(SourceFile(path: "c.blv", bytes: [0x80, 0x41])).diagnostics
    #expect(lone.map(\.message) == ["unexpected character byte 0x80"])
    let truncated = Lexer.tokenize(SourceFile(path: "d.blv", bytes: [0xE2, 0x82, 0x41])).diagnostics
    #expect(truncated.count == 1)
    #expect(truncated.first?.message == "unexpected character bytes 0xE2 0x82")
  }

  @Test func controlCharacters() {
    let (tokens, diagnostics) = Lexer.tokenize(
      SourceFile(path: "c.blv", bytes: [0x61, 0x00, 0x07, 0x62]))
    #expect(tokens.map(\.kind) == [.identifier, .invalid, .invalid, .identifier, .end])
    #expect(diagnostics.count == 2)
    #expect(
      diagnostics.map(\.message) == [
        "unexpected character byte 0x00", "unexpected character byte 0x07",
      ])
  }

  @Test func columnsCountCharactersNotBytes() {
    // "λλ" is 4 bytes but 2 columns; `+` is at column 14 and `y` at 16.
    let (tokens, _) = FE.tokens("let s = \"λλ\" + y\nλ z")
    let plus = tokens.first { $0.kind == .symbol(.plus) }!
    let y = tokens.first { $0.text == "y" }!
    #expect(plus.range.file.lineAndColumn(of: plus.range.start) == (1, 14))
    #expect(y.range.file.lineAndColumn(of: y.range.start) == (1, 16))
    let z = tokens.first { $0.text == "z" }!
    #expect(z.range.file.lineAndColumn(of: z.range.start) == (2, 3))
    #expect(z.range.location == "test.blv:2:3")
  }

  @Test func caretLinesUpUnderNonASCII() {
    let (_, diagnostics) = FE.parse("let a = \"é\" + $\n")
    let text = DiagnosticRenderer.render(diagnostics)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines[0] == "test.blv:1:15: error: unexpected character '$' (U+24)")
    #expect(lines[1] == "let a = \"é\" + $")
    #expect(lines[2] == String(repeating: " ", count: 14) + "^")
  }

  @Test func rangesCoverTheSpelling() {
    let (tokens, _) = FE.tokens("  outer loglam: scalar = 1.5e3 # c")
    for t in tokens.dropLast() {
      #expect(t.range.file.text(t.range.start..<t.range.end) == t.text)
    }
    #expect(tokens.map(\.text).dropLast() == ["outer", "loglam", ":", "scalar", "=", "1.5e3"])
    #expect(tokens[1].range.start == 8 && tokens[1].range.end == 14)
  }

  @Test func emptyInput() {
    let (tokens, diagnostics) = FE.tokens("")
    #expect(tokens.map(\.kind) == [.end])
    #expect(diagnostics.isEmpty)
    #expect(FE.file("").lineAndColumn(of: 0) == (1, 1))
  }
}
