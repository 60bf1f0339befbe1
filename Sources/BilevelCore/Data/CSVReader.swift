import BilevelFrontEnd

/// Reads a numeric CSV file into a tensor at compile time.
///
/// Format accepted:
/// - fields separated by commas, with optional spaces or tabs around each
///   field; a field may be wrapped in double quotes (`"1.5"`), which are
///   removed before the number is read (a quoted field ends on its line);
/// - or by semicolons, or by runs of spaces and tabs (numpy's `savetxt`
///   default): the first non-blank, non-comment line decides, a comma before
///   a semicolon before blanks, and the whole file uses that delimiter;
/// - `\n` or `\r\n` line endings; a leading UTF-8 byte-order mark is skipped;
/// - blank lines and lines whose first non-blank character is `#` are ignored;
/// - the first remaining row is a header, and skipped, when some non-empty
///   field in it is not a number and every such field is a word (starts
///   with a letter or `_`); a malformed number there (`1_000`, `−1.5`,
///   `"1,2"`, `1.2.3`) is an error at the field; no later row can be a header;
/// - numbers are anything Swift's `Double(String)` reads (decimal, exponent,
///   hex float), plus `nan`, `inf` and `infinity` in any case with an
///   optional sign. Every NaN is stored as the one canonical quiet NaN.
///   `snan` and NaN payloads are rejected, and a finite literal too large for
///   a Double is an error rather than a silent infinity.
///
/// One column gives `vector[rows]`; more give `matrix[rows, columns]` (so a
/// single-row, multi-column file is `matrix[1, n]`). Every error is a
/// diagnostic whose range points into the CSV file itself.
public enum CSVReader {
  /// Refuse files larger than this many entries (800 MB of Doubles).
  public static let maxEntries = 100_000_000

  public static func read(_ file: SourceFile) -> Result<Tensor, Diagnostic> {
    read(file, limit: maxEntries).map(\.tensor)
  }

  /// The tensor and the delimiter the file turned out to use.
  public static func readTable(
    _ file: SourceFile
  ) -> Result<(tensor: Tensor, delimiter: CSVDelimiter), Diagnostic> {
    read(file, limit: maxEntries)
  }

  /// `limit` is a parameter only so tests can reach the limit cheaply.
  static func read(
    _ file: SourceFile, limit: Int
  ) -> Result<(tensor: Tensor, delimiter: CSVDelimiter), Diagnostic> {
    file.bytes.withUnsafeBufferPointer { buffer in
      var parser = CSVParser(file: file, bytes: buffer, limit: limit)
      return parser.parse().map { ($0, parser.delimiter) }
    }
  }
}

/// What separates a CSV file's fields, detected per file.
public enum CSVDelimiter: String, Sendable {
  case comma = "comma-separated"
  case semicolon = "semicolon-separated"
  /// Runs of spaces and tabs: a blank field cannot be written.
  case whitespace = "whitespace-separated"
}

/// One field of a row: `outer` is the field as written (with any quotes),
/// `inner` the text to read as a number.
private struct FieldSpan {
  var outer: Range<Int>
  var inner: Range<Int>
}

private struct CSVParser {
  let file: SourceFile
  let bytes: UnsafeBufferPointer<UInt8>
  let limit: Int
  /// Reused for every row so that parsing a row allocates nothing.
  var fields: [FieldSpan] = []
  var delimiter = CSVDelimiter.comma

  init(file: SourceFile, bytes: UnsafeBufferPointer<UInt8>, limit: Int) {
    self.file = file
    self.bytes = bytes
    self.limit = limit
  }

  func range(_ r: Range<Int>) -> SourceRange {
    SourceRange(file: file, start: r.lowerBound, end: r.upperBound)
  }

  mutating func parse() -> Result<Tensor, Diagnostic> {
    let n = bytes.count
    var pos = 0
    if n >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { pos = 3 }
    var values: [Double] = []
    var columns = 0
    var rows = 0
    var firstRow = 0..<0
    var header: (count: Int, range: Range<Int>)?
    var seenFirstRow = false

    while pos < n {
      var lineEnd = pos
      while lineEnd < n && bytes[lineEnd] != CSVBytes.newline { lineEnd += 1 }
      var a = pos
      var b = lineEnd
      pos = lineEnd + 1
      while a < b && CSVBytes.isBlank(bytes[a]) { a += 1 }
      while b > a && CSVBytes.isBlank(bytes[b - 1]) { b -= 1 }
      if a == b || bytes[a] == CSVBytes.hash { continue }

      if !seenFirstRow { delimiter = detectDelimiter(a..<b) }
      if let error = splitFields(a..<b) { return .failure(error) }

      if !seenFirstRow {
        seenFirstRow = true
        switch firstRowKind() {
        case .header:
          header = (fields.count, a..<b)
          continue
        case .malformed(let field):
          return .failure(
            .error(.csvMalformedFirstRow(file.text(field.outer)), at: range(field.outer)))
        case .data: break
        }
      }
      // Before the field count, so a stray trailing comma is named as such.
      if let empty = fields.first(where: { $0.inner.isEmpty }) {
        return .failure(.error(.csvEmptyField, at: range(empty.outer)))
      }
      if rows == 0 {
        columns = fields.count
        firstRow = a..<b
        if let header, header.count != columns {
          return .failure(
            .error(
              .csvHeaderLength(columns, header: header.count), at: range(a..<b),
              notes: [.note(.csvHeaderHere, at: range(header.range))]))
        }
      } else if fields.count != columns {
        return .failure(
          .error(
            .csvRowLength(fields.count, first: columns), at: range(a..<b),
            notes: [.note(.csvFirstRowHere, at: range(firstRow))]))
      }
      if values.count > limit - columns {
        return .failure(.error(.csvTooManyEntries(limit), at: range(a..<b)))
      }
      for field in fields {
        switch NumberScanner.scan(bytes, field.inner) {
        case .value(let v):
          values.append(v)
        case .notANumber:
          return .failure(
            .error(.csvExpectedNumber(file.text(field.outer)), at: range(field.outer)))
        case .outOfRange:
          return .failure(.error(.numberOutOfRange(file.text(field.inner)), at: range(field.outer)))
        }
      }
      rows += 1
    }

    if rows == 0 {
      return .failure(.error(.csvNoDataRows, at: SourceRange(file: file, start: 0, end: 0)))
    }
    let shape: Shape = columns == 1 ? .vector(rows) : .matrix(rows, columns)
    return .success(Tensor(shape: shape, scalars: values))
  }

  enum FirstRow {
    case data, header
    /// A field that is neither a number nor a word, such as `1_000` or `"1,2"`.
    case malformed(FieldSpan)
  }

  /// The first row is a header only when it clearly is one: some non-empty
  /// field is not a number, and every such field is a word (it starts with
  /// a letter or `_`). A malformed number there is an error, not a header
  /// that silently drops the row (a number too large for a Double is a
  /// number, and an error later).
  func firstRowKind() -> FirstRow {
    var sawWord = false
    for field in fields where !field.inner.isEmpty {
      guard NumberScanner.scan(bytes, field.inner) == .notANumber else { continue }
      guard startsWord(field.inner) else { return .malformed(field) }
      sawWord = true
    }
    return sawWord ? .header : .data
  }

  func startsWord(_ r: Range<Int>) -> Bool {
    var iterator = bytes[r].makeIterator()
    var decoder = UTF8()
    guard case .scalarValue(let first) = decoder.decode(&iterator) else { return false }
    return first == "_" || first.properties.isAlphabetic
  }

  /// Outside quotes: a comma, else a semicolon, else blanks between fields.
  func detectDelimiter(_ line: Range<Int>) -> CSVDelimiter {
    var quoted = false
    var sawSemicolon = false
    var sawBlank = false
    for i in line {
      let c = bytes[i]
      if c == CSVBytes.quote { quoted.toggle() }
      if quoted { continue }
      if c == CSVBytes.comma { return .comma }
      if c == CSVBytes.semicolon { sawSemicolon = true }
      if c == 0x20 || c == 0x09 { sawBlank = true }
    }
    return sawSemicolon ? .semicolon : sawBlank ? .whitespace : .comma
  }

  @inline(__always)
  func isSeparator(_ c: UInt8) -> Bool {
    switch delimiter {
    case .comma: return c == CSVBytes.comma
    case .semicolon: return c == CSVBytes.semicolon
    case .whitespace: return c == 0x20 || c == 0x09
    }
  }

  /// Splits a trimmed, non-empty line into `fields`; the only possible
  /// error is an unterminated quote.
  mutating func splitFields(_ line: Range<Int>) -> Diagnostic? {
    fields.removeAll(keepingCapacity: true)
    let b = line.upperBound
    var i = line.lowerBound
    while true {
      while i < b && CSVBytes.isBlank(bytes[i]) { i += 1 }
      let start = i
      var inner: Range<Int>?
      if i < b && bytes[i] == CSVBytes.quote {
        var j = i + 1
        while true {
          if j >= b { return .error(.csvUnterminatedQuote, at: range(start..<b)) }
          if bytes[j] == CSVBytes.quote {
            if j + 1 < b && bytes[j + 1] == CSVBytes.quote { j += 2; continue }
            break
          }
          j += 1
        }
        inner = (start + 1)..<j
        i = j + 1
      }
      while i < b && !isSeparator(bytes[i]) { i += 1 }
      var end = i
      while end > start && CSVBytes.isBlank(bytes[end - 1]) { end -= 1 }
      // Text after a closing quote ("1"x) makes the whole field the text.
      let quotedCleanly = inner.map { $0.upperBound + 1 == end } ?? false
      let outer = start..<end
      fields.append(FieldSpan(outer: outer, inner: quotedCleanly ? inner! : outer))
      if i >= b { return nil }
      i += 1  // past the delimiter; a trailing comma yields one more empty field
      // Blanks are one delimiter however many there are.
      if delimiter == .whitespace { while i < b && CSVBytes.isBlank(bytes[i]) { i += 1 } }
    }
  }
}

/// Byte constants, so the hot loops compare integers, not Characters.
private enum CSVBytes {
  static let newline = UInt8(ascii: "\n")
  static let hash = UInt8(ascii: "#")
  static let comma = UInt8(ascii: ",")
  static let semicolon = UInt8(ascii: ";")
  static let quote = UInt8(ascii: "\"")

  @inline(__always)
  static func isBlank(_ c: UInt8) -> Bool {
    c == 0x20 || c == 0x09 || c == 0x0D
  }
}
