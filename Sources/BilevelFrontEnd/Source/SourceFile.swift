/// A source text (a .blv program, a CSV file, a REPL line) with its line table.
/// Immutable, so it is shared freely between ranges and diagnostics.
public final class SourceFile: Sendable {
  public let path: String
  public let bytes: [UInt8]
  /// Byte offset at which each line starts; line 1 starts at `lineStarts[0]`.
  public let lineStarts: [Int]
  /// Added to reported line numbers (a REPL entry is line N of the session).
  public let firstLine: Int

  public init(path: String, bytes: [UInt8], firstLine: Int = 1) {
    self.path = path
    self.bytes = bytes
    self.firstLine = firstLine
    // A UTF-8 byte-order mark is not part of line 1: columns and the echoed line skip it.
    var starts = [SourceFile.hasByteOrderMark(bytes) ? 3 : 0]
    for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") { starts.append(i + 1) }
    self.lineStarts = starts
  }

  /// Whether `bytes` start with the UTF-8 byte-order mark EF BB BF.
  public static func hasByteOrderMark(_ bytes: [UInt8]) -> Bool {
    bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF
  }

  public convenience init(path: String, text: String, firstLine: Int = 1) {
    self.init(path: path, bytes: Array(text.utf8), firstLine: firstLine)
  }

  /// 1-based line and column of a byte offset; the column counts Unicode
  /// scalars so that carets line up under non-ASCII text.
  public func lineAndColumn(of offset: Int) -> (line: Int, column: Int) {
    let (index, column) = lineIndexAndColumn(of: offset)
    return (index + firstLine, column)
  }

  /// 0-based line index and 1-based column.
  public func lineIndexAndColumn(of offset: Int) -> (index: Int, column: Int) {
    let clamped = max(0, min(offset, bytes.count))
    var lo = 0
    var hi = lineStarts.count - 1
    while lo < hi {
      let mid = (lo + hi + 1) / 2
      if lineStarts[mid] <= clamped { lo = mid } else { hi = mid - 1 }
    }
    let start = lineStarts[lo]
    var column = 1
    var i = start
    while i < clamped {
      // Count only bytes that begin a UTF-8 sequence.
      if bytes[i] & 0xC0 != 0x80 { column += 1 }
      i += 1
    }
    return (lo, column)
  }

  /// The byte range of a line (0-based index), without its newline.
  public func lineRange(index: Int) -> Range<Int> {
    let start = lineStarts[index]
    var end = index + 1 < lineStarts.count ? lineStarts[index + 1] - 1 : bytes.count
    if end > start && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
    return start..<max(start, end)
  }

  public func text(_ range: Range<Int>) -> String {
    let lo = max(0, min(range.lowerBound, bytes.count))
    let hi = max(lo, min(range.upperBound, bytes.count))
    return String(decoding: bytes[lo..<hi], as: UTF8.self)
  }

  /// The directory that relative data paths are resolved against.
  public var directory: String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return String(path[..<slash])
  }
}

/// A half-open byte range in one source file. Everything the front end
/// produces carries one, and derived graph nodes inherit them.
public struct SourceRange: Sendable {
  public let file: SourceFile
  public let start: Int
  public let end: Int

  public init(file: SourceFile, start: Int, end: Int) {
    self.file = file
    self.start = start
    self.end = max(start, end)
  }

  /// The smallest range that covers both.
  public func union(_ other: SourceRange) -> SourceRange {
    SourceRange(file: file, start: min(start, other.start), end: max(end, other.end))
  }

  public var text: String { file.text(start..<end) }

  /// `path:line:col`, as diagnostics and provenance print it.
  public var location: String {
    let (line, column) = file.lineAndColumn(of: start)
    return "\(file.path):\(line):\(column)"
  }
}
