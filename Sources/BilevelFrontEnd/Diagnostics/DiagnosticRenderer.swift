/// Renders diagnostics as `file:line:col: error: message`, the source line and
/// a caret (`^~~~` under the whole range when it fits on the line).
public enum DiagnosticRenderer {
  /// More diagnostics than this for one file are counted, not shown: a
  /// binary file must give a few lines, not one per byte.
  public static let maximumShown = 20

  public static func render(_ diagnostics: [Diagnostic]) -> String {
    var out = ""
    for d in diagnostics.prefix(maximumShown) { render(d, into: &out) }
    let hidden = diagnostics.dropFirst(maximumShown)
    if !hidden.isEmpty {
      let errors = hidden.count(where: { $0.severity == .error })
      let others = hidden.count - errors
      var parts: [String] = []
      if errors > 0 { parts.append("\(errors) more error\(errors == 1 ? "" : "s")") }
      if others > 0 {
        parts.append(
          "\(others) more warning\(others == 1 ? "" : "s") or note\(others == 1 ? "" : "s")")
      }
      out += "note: \(parts.joined(separator: " and ")) not shown\n"
    }
    return out
  }

  public static func render(_ d: Diagnostic, into out: inout String) {
    guard let range = d.range else {
      out += "\(d.severity.rawValue): \(escapingControls(bounded(d.message)))\n"
      for n in d.notes { render(n, into: &out) }
      return
    }
    let file = range.file
    let (index, column) = file.lineIndexAndColumn(of: range.start)
    out +=
      "\(escapingControls(file.path)):\(index + file.firstLine):\(column): \(d.severity.rawValue): "
      + "\(escapingControls(bounded(d.message)))\n"
    let lineBytes = file.lineRange(index: index)
    if lineBytes.count > maximumEchoedBytes {
      renderWindow(file.bytes, line: lineBytes, range: range, into: &out)
    } else {
      let shown = displayText(file.bytes[lineBytes])
      out += shown + "\n"
      // Caret under the start; tildes to the end of the range on this line.
      let endOnLine = min(range.end, lineBytes.upperBound)
      let width = max(1, displayWidth(file.bytes[range.start..<max(range.start, endOnLine)]))
      // Escapes are wider than the bytes they stand for: measure what is shown.
      let lead = displayWidth(
        file.bytes[
          lineBytes.lowerBound..<max(lineBytes.lowerBound, min(range.start, lineBytes.upperBound))])
      out +=
        String(repeating: " ", count: lead) + "^" + String(repeating: "~", count: width - 1) + "\n"
    }
    for n in d.notes { render(n, into: &out) }
  }

  /// Messages quote tokens and values; a 5,000-character name is shown by its ends.
  public static let maximumMessageCharacters = 400

  static func bounded(_ message: String) -> String {
    guard message.count > maximumMessageCharacters else { return message }
    let keep = maximumMessageCharacters / 2
    return String(message.prefix(keep)) + " … " + String(message.suffix(keep))
  }

  /// Lines longer than this are echoed as a window around the caret.
  public static let maximumEchoedBytes = 240
  static let windowBefore = 60, windowAfter = 100

  /// A window of a long line: up to `windowBefore` characters before the
  /// caret and `windowAfter` from it, "…" where the line goes on.
  static func renderWindow(
    _ bytes: [UInt8], line: Range<Int>, range: SourceRange, into out: inout String
  ) {
    let start = min(max(range.start, line.lowerBound), line.upperBound)
    var lower = start
    var before = 0
    while lower > line.lowerBound && before < windowBefore {
      lower -= 1
      if bytes[lower] & 0xC0 != 0x80 { before += 1 }
    }
    var upper = start
    var after = 0
    while upper < line.upperBound && (after < windowAfter || bytes[upper] & 0xC0 == 0x80) {
      if bytes[upper] & 0xC0 != 0x80 { after += 1 }
      upper += 1
    }
    let lead = lower > line.lowerBound ? "…" : ""
    out += lead + displayText(bytes[lower..<upper]) + (upper < line.upperBound ? "…" : "") + "\n"
    let endOnLine = min(max(range.end, start), upper)
    let width = max(1, displayWidth(bytes[start..<endOnLine]))
    let column = lead.count + displayWidth(bytes[lower..<start])
    out +=
      String(repeating: " ", count: column) + "^" + String(repeating: "~", count: width - 1) + "\n"
  }

  /// A source line as printable text: a tab is a space, invalid UTF-8 a
  /// placeholder, and a terminal control character its escape (as in
  /// `escapingControls`), so no byte of the file reaches the terminal raw.
  static func displayText(_ bytes: ArraySlice<UInt8>) -> String {
    var scalars = String.UnicodeScalarView()
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    loop: while true {
      switch decoder.decode(&iterator) {
      case .scalarValue(let s):
        if s.value == 9 {
          scalars.append(" ")
        } else if let escape = escape(s) {
          scalars.append(contentsOf: escape.unicodeScalars)
        } else {
          scalars.append(s)
        }
      case .emptyInput: break loop
      case .error: scalars.append("\u{FFFD}")
      }
    }
    return String(scalars)
  }

  /// Columns `bytes` take once shown by `displayText`.
  static func displayWidth(_ bytes: ArraySlice<UInt8>) -> Int {
    displayText(bytes).unicodeScalars.count
  }

  /// Text with every terminal control character escaped: C0 controls but
  /// tab (`\x1b`, `\n`), DEL and the C1 controls U+0080-U+009F (`\u{9b}`),
  /// which a terminal would otherwise act on (a path or CSV field could
  /// move the cursor, recolour or retitle the terminal).
  public static func escapingControls(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: { escape($0) != nil }) else { return text }
    var out = String.UnicodeScalarView()
    for s in text.unicodeScalars {
      if let e = escape(s) { out.append(contentsOf: e.unicodeScalars) } else { out.append(s) }
    }
    return String(out)
  }

  static func escape(_ s: Unicode.Scalar) -> String? {
    switch s.value {
    case 9: return nil
    case 10: return "\\n"
    case 13: return "\\r"
    case 0..<32, 127: return "\\x" + hex(s.value)
    case 0x80...0x9F: return "\\u{" + hex(s.value) + "}"
    default: return nil
    }
  }

  private static func hex(_ v: UInt32) -> String {
    let digits = String(v, radix: 16)
    return digits.count < 2 ? "0" + digits : digits
  }
}
