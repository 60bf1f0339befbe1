import BilevelCore
import Foundation
import TestSupport
import Testing

@testable import BilevelFrontEnd

/// The written grammar is the source of truth: the parser's operator table
/// must agree with it, and every sample program must be in the language.
@Suite struct GrammarTests {
  static let grammarPath = PackagePaths.grammar + "/bilevel.ebnf"

  /// Rule name → the terminals quoted in its right-hand side, in file order.
  struct Rule {
    let name: String
    let terminals: [String]
  }

  /// A small EBNF reader: `name = ... ;` or `name ::= ...`, comments `(* *)`,
  /// `#` or `//` to end of line, special sequences `? ... ?`, terminals in
  /// double or single quotes. A rule
  /// starts at a name that begins a line and is followed by `=` or `::=`;
  /// it ends at `;` or where the next rule starts.
  static func rules(_ text: String) -> [Rule] {
    enum Piece: Equatable {
      case name(String, lineStart: Bool), terminal(String), defines, end, other
    }
    var pieces: [Piece] = []
    let s = Array(text.unicodeScalars)
    var i = 0
    var atLineStart = true
    func isNameChar(_ c: Unicode.Scalar) -> Bool {
      c.properties.isAlphabetic || c == "_" || c == "-" || ("0"..."9").contains(c)
    }
    while i < s.count {
      let c = s[i]
      if c == "\n" {
        atLineStart = true
        i += 1
        continue
      }
      if c == " " || c == "\t" || c == "\r" {
        i += 1
        continue
      }
      if c == "(" && i + 1 < s.count && s[i + 1] == "*" {
        i += 2
        while i + 1 < s.count && !(s[i] == "*" && s[i + 1] == ")") { i += 1 }
        i += 2
        continue
      }
      if c == "?" {  // an ISO special sequence, `? any character ?`
        i += 1
        while i < s.count && s[i] != "?" { i += 1 }
        i += 1
        continue
      }
      if c == "#" || (c == "/" && i + 1 < s.count && s[i + 1] == "/") {
        while i < s.count && s[i] != "\n" { i += 1 }
        continue
      }
      let lineStart = atLineStart
      atLineStart = false
      if c == "\"" || c == "'" {
        var j = i + 1
        while j < s.count && s[j] != c && s[j] != "\n" { j += 1 }
        pieces.append(.terminal(String(String.UnicodeScalarView(s[(i + 1)..<min(j, s.count)]))))
        i = j + 1
      } else if c.properties.isAlphabetic || c == "_" {
        var j = i
        while j < s.count && isNameChar(s[j]) { j += 1 }
        pieces.append(.name(String(String.UnicodeScalarView(s[i..<j])), lineStart: lineStart))
        i = j
      } else if c == ":" && i + 2 < s.count && s[i + 1] == ":" && s[i + 2] == "=" {
        pieces.append(.defines)
        i += 3
      } else if c == "=" {
        pieces.append(.defines)
        i += 1
      } else if c == ";" {
        pieces.append(.end)
        i += 1
      } else {
        pieces.append(.other)
        i += 1
      }
    }
    var out: [Rule] = []
    var current: (name: String, terminals: [String])? = nil
    var k = 0
    while k < pieces.count {
      if case .name(let n, let lineStart) = pieces[k], k + 1 < pieces.count,
        pieces[k + 1] == .defines,
        lineStart || current == nil
      {
        if let c = current { out.append(Rule(name: c.name, terminals: c.terminals)) }
        current = (n, [])
        k += 2
        continue
      }
      switch pieces[k] {
      case .terminal(let t): current?.terminals.append(t)
      case .end:
        if let c = current { out.append(Rule(name: c.name, terminals: c.terminals)) }
        current = nil
      default: break
      }
      k += 1
    }
    if let c = current { out.append(Rule(name: c.name, terminals: c.terminals)) }
    return out
  }

  /// The symbols that can be expression operators; other quoted terminals
  /// (`)`, `]`, `,`, `:`) are punctuation of a postfix form.
  static let operatorSymbols: Set<String> = ["+", "-", "*", "/", "@", "^", "'", "[", "("]

  @Test func readerUnderstandsBothNotations() {
    let rules = Self.rules(
      """
      (* comment with "!" *)
      sum = product { ("+" | "-") product } ;
      product ::= unary { ( "*" | "/" | "@" ) unary }
      # a comment "%"
      string = '"' , { ? any character but '"' ? } , '"' ;
      postfix = primary { "'" | "[" index { "," index } "]" | "(" args ")" } ;
      """)
    #expect(rules.map(\.name) == ["sum", "product", "string", "postfix"])
    #expect(rules[2].terminals == ["\"", "\""])
    #expect(rules[0].terminals == ["+", "-"])
    #expect(rules[1].terminals == ["*", "/", "@"])
    #expect(Set(rules[3].terminals).intersection(Self.operatorSymbols) == ["'", "[", "("])
  }

  @Test func operatorTableMatchesTheGrammar() throws {
    let text = try #require(
      try? String(contentsOfFile: Self.grammarPath, encoding: .utf8),
      "grammar/bilevel.ebnf is missing")
    let rules = Self.rules(text)
    var positions: [Int] = []
    for level in OperatorTable.levels {
      guard let k = rules.firstIndex(where: { $0.name == level.rule }) else {
        Issue.record("grammar/bilevel.ebnf has no rule '\(level.rule)'")
        continue
      }
      positions.append(k)
      let inGrammar = Set(rules[k].terminals).intersection(Self.operatorSymbols)
      #expect(
        inGrammar == Set(level.operators),
        "rule '\(level.rule)' lists \(inGrammar.sorted()) but OperatorTable has \(level.operators)")
    }
    #expect(
      positions == positions.sorted(),
      "the precedence rules are not in the table's order (loosest first)")
  }

  static let samples = PackagePaths.files(under: PackagePaths.samples, withExtension: "blv")
    .filter { !$0.contains("/errors/") }

  @Test func thereAreSamples() {
    #expect(!Self.samples.isEmpty)
  }

  @Test(arguments: samples.map { String($0.dropFirst(PackagePaths.samples.count + 1)) })
  func sampleParsesAndElaborates(_ relative: String) throws {
    let path = PackagePaths.samples + "/" + relative
    let bytes = try #require(FileManager.default.contents(atPath: path))
    let file = SourceFile(path: path, bytes: [UInt8](bytes))
    let result = FE.onLargeStack { () -> (String, String) in
      let (source, syntax) = Parser.parse(file)
      if !syntax.isEmpty { return (DiagnosticRenderer.render(syntax), "") }
      var options = CompileOptions()
      // Data paths arrive resolved against the sample's folder.
      options.readFile = { p in
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: p, isDirectory: &isDirectory),
          !isDirectory.boolValue
        else {
          return nil
        }
        return FileManager.default.contents(atPath: p).map { [UInt8]($0) }
      }
      let (_, diagnostics) = Elaborator.elaborate(source, options: options)
      return ("", DiagnosticRenderer.render(diagnostics.filter { $0.severity == .error }))
    }
    #expect(result.0.isEmpty, Comment(rawValue: "syntax errors:\n" + result.0))
    #expect(result.1.isEmpty, Comment(rawValue: "elaboration errors:\n" + result.1))
  }
}
