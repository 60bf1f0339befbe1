/// Turns bytes into tokens. Never fails: a byte it does not understand
/// becomes an `.invalid` token and a diagnostic, and lexing goes on.
public struct Lexer {
  let file: SourceFile
  let bytes: [UInt8]
  var position = 0
  public private(set) var diagnostics: [Diagnostic] = []

  public init(file: SourceFile) {
    self.file = file
    self.bytes = file.bytes
    // Editors on Windows save a byte-order mark; it is not a token.
    if SourceFile.hasByteOrderMark(bytes) { position = 3 }
  }

  public static func tokenize(_ file: SourceFile) -> (tokens: [Token], diagnostics: [Diagnostic]) {
    var lexer = Lexer(file: file)
    var tokens: [Token] = []
    while true {
      let t = lexer.next()
      tokens.append(t)
      if t.kind == .end { break }
    }
    return (tokens, lexer.diagnostics)
  }

  func peek(_ k: Int = 0) -> UInt8? {
    position + k < bytes.count ? bytes[position + k] : nil
  }

  func range(_ start: Int) -> SourceRange { SourceRange(file: file, start: start, end: position) }

  public mutating func next() -> Token {
    skipBlanksAndComments()
    let start = position
    guard let c = peek() else { return Token(kind: .end, range: range(start)) }
    if c == UInt8(ascii: "\n") {
      position += 1
      return Token(kind: .newline, range: range(start))
    }
    if Lexer.isIdentifierStart(c) {
      while let d = peek(), Lexer.isIdentifierContinue(d) { position += 1 }
      let text = file.text(start..<position)
      if let k = Keyword(rawValue: text) { return Token(kind: .keyword(k), range: range(start)) }
      return Token(kind: .identifier, range: range(start))
    }
    if Lexer.isDigit(c) || (c == UInt8(ascii: ".") && peek(1).map(Lexer.isDigit) == true) {
      return lexNumber(start)
    }
    if c == UInt8(ascii: "\"") { return lexString(start) }
    if c == UInt8(ascii: "."), peek(1) == UInt8(ascii: ".") {
      position += 2
      return Token(kind: .symbol(.dotDot), range: range(start))
    }
    if c < 128, let s = Symbol(rawValue: String(UnicodeScalar(c))) {
      position += 1
      return Token(kind: .symbol(s), range: range(start))
    }
    // One whole UTF-8 sequence (or one bad byte) per invalid token.
    position += 1
    while let d = peek(), d & 0xC0 == 0x80, c >= 0xC0 { position += 1 }
    // A run of the same bad sequence (a binary file's NULs) is one error, not one per byte.
    let sequence = file.bytes[start..<position]
    while position + sequence.count <= file.bytes.count,
      file.bytes[position..<(position + sequence.count)].elementsEqual(sequence)
    {
      position += sequence.count
    }
    let r = range(start)
    diagnostics.append(.error(.unexpectedCharacter(Lexer.describe(sequence)), at: r))
    return Token(kind: .invalid, range: r)
  }

  mutating func skipBlanksAndComments() {
    while let c = peek() {
      if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") {
        position += 1
      } else if c == UInt8(ascii: "#") {
        while let d = peek(), d != UInt8(ascii: "\n") { position += 1 }
      } else {
        return
      }
    }
  }

  mutating func lexNumber(_ start: Int) -> Token {
    while let d = peek(), Lexer.isDigit(d) || d == UInt8(ascii: "_") { position += 1 }
    // A '.' starts a fraction unless it begins '..' (a range).
    if peek() == UInt8(ascii: "."), peek(1) != UInt8(ascii: ".") {
      position += 1
      while let d = peek(), Lexer.isDigit(d) || d == UInt8(ascii: "_") { position += 1 }
    }
    if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
      var k = 1
      if let s = peek(1), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { k = 2 }
      if let d = peek(k), Lexer.isDigit(d) {
        position += k
        while let d = peek(), Lexer.isDigit(d) { position += 1 }
      }
    }
    // A letter glued to a number (`2x`, `1e`) is a typo, not two tokens.
    if let d = peek(), Lexer.isIdentifierStart(d) {
      while let d = peek(), Lexer.isIdentifierContinue(d) { position += 1 }
      let r = range(start)
      diagnostics.append(.error(.malformedNumber(r.text), at: r))
      return Token(kind: .invalid, range: r)
    }
    return Token(kind: .number, range: range(start))
  }

  mutating func lexString(_ start: Int) -> Token {
    position += 1
    while let c = peek(), c != UInt8(ascii: "\"") {
      if c == UInt8(ascii: "\n") { break }
      position += 1
    }
    if peek() == UInt8(ascii: "\"") {
      position += 1
      return Token(kind: .string, range: range(start))
    }
    let r = range(start)
    diagnostics.append(.error(.unterminatedString, at: r))
    return Token(kind: .invalid, range: r)
  }

  static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
  static func isIdentifierStart(_ c: UInt8) -> Bool {
    (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95
  }
  static func isIdentifierContinue(_ c: UInt8) -> Bool { isIdentifierStart(c) || isDigit(c) }

  static func describe(_ bytes: ArraySlice<UInt8>) -> String {
    if let s = String(validating: bytes, as: UTF8.self), let u = s.unicodeScalars.first,
      u.value >= 32, u.value != 127
    {
      return "'\(s)' (U+\(String(u.value, radix: 16, uppercase: true)))"
    }
    let hex = bytes.map { b in (b < 16 ? "0x0" : "0x") + String(b, radix: 16, uppercase: true) }
    return (bytes.count == 1 ? "byte " : "bytes ") + hex.joined(separator: " ")
  }
}
