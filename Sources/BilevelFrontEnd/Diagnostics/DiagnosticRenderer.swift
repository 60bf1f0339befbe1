/// Renders diagnostics as `file:line:col: error: message`, the source line and
/// a caret (`^~~~` under the whole range when it fits on the line).
public enum DiagnosticRenderer {
  public static func render(_ diagnostics: [Diagnostic]) -> String {
    var out = ""
    for d in diagnostics { render(d, into: &out) }
    return out
  }

  public static func render(_ d: Diagnostic, into out: inout String) {
    guard let range = d.range else {
      out += "\(d.severity.rawValue): \(d.message)\n"
      for n in d.notes { render(n, into: &out) }
      return
    }
    let file = range.file
    let (index, column) = file.lineIndexAndColumn(of: range.start)
    out += "\(file.path):\(index + file.firstLine):\(column): \(d.severity.rawValue): \(d.message)\n"
    let lineBytes = file.lineRange(index: index)
    let shown = displayText(file.bytes[lineBytes])
    out += shown + "\n"
    // Caret under the start; tildes to the end of the range on this line.
    let endOnLine = min(range.end, lineBytes.upperBound)
    let width = max(1, displayWidth(file.bytes[range.start..<max(range.start, endOnLine)]))
    out += String(repeating: " ", count: column - 1) + "^" + String(repeating: "~", count: width - 1) + "\n"
    for n in d.notes { render(n, into: &out) }
  }

  /// A source line as printable text: control bytes and invalid UTF-8 become
  /// one visible placeholder each, so the caret column still lines up.
  static func displayText(_ bytes: ArraySlice<UInt8>) -> String {
    var scalars = String.UnicodeScalarView()
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    loop: while true {
      switch decoder.decode(&iterator) {
      case .scalarValue(let s):
        if s.value == 9 {
          scalars.append(" ")
        } else if s.value < 32 || s.value == 127 {
          scalars.append("\u{FFFD}")
        } else {
          scalars.append(s)
        }
      case .emptyInput: break loop
      case .error: scalars.append("\u{FFFD}")
      }
    }
    return String(scalars)
  }

  static func displayWidth(_ bytes: ArraySlice<UInt8>) -> Int {
    bytes.reduce(0) { $0 + ($1 & 0xC0 != 0x80 ? 1 : 0) }
  }
}
