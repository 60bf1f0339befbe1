import Foundation

/// The error corpus: each invalid program annotates the diagnostics it must
/// produce, as the Swift compiler's -verify tests do:
///
///     #! error@+1: undefined name 'lamda'
///     inner loss = lamda * sum(w^2)
///
/// `@+N` / `@-N` is relative to the annotation's line; `@FILE:N` is line N
/// of another file (a CSV), relative to the program's folder; an optional
/// `:COL` follows the line. The text must occur in the message. A missing
/// or an extra error or warning fails; notes are checked only when annotated.
public enum ExpectedDiagnostics {
  public struct Expectation: Equatable, Sendable {
    public let file: String
    public let line: Int
    public let column: Int?
    public let severity: String
    public let text: String
  }

  public struct Actual: Equatable, Sendable {
    public let file: String
    public let line: Int
    public let column: Int
    public let severity: String
    public let message: String
  }

  public static func expectations(in text: String, file: String) -> [Expectation] {
    var out: [Expectation] = []
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    let pattern = try! NSRegularExpression(
      pattern: #"#!\s*(error|warning|note)@([+-]\d+|[^:\s]+:\d+)(?::(\d+))?:\s?(.*)$"#)
    for (i, line) in lines.enumerated() {
      let s = String(line)
      guard let m = pattern.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) else {
        continue
      }
      func group(_ k: Int) -> String? {
        Range(m.range(at: k), in: s).map { String(s[$0]) }
      }
      let location = group(2)!
      var target = file
      var lineNumber: Int
      if location.hasPrefix("+") || location.hasPrefix("-") {
        lineNumber = i + 1 + Int(location)!
      } else {
        let parts = location.split(separator: ":")
        target = String(parts[0])
        lineNumber = Int(parts[1])!
      }
      out.append(
        Expectation(
          file: target, line: lineNumber, column: group(3).flatMap { Int($0) },
          severity: group(1)!, text: group(4)!.trimmingCharacters(in: .whitespaces)))
    }
    return out
  }

  /// Diagnostics parsed from rendered output (`file:line:col: severity: message`).
  public static func actuals(in output: String) -> (diagnostics: [Actual], unlocated: [String]) {
    var out: [Actual] = []
    var unlocated: [String] = []
    let pattern = try! NSRegularExpression(
      pattern: #"^(.+?):(\d+):(\d+): (error|warning|note): (.*)$"#)
    for line in output.split(separator: "\n") {
      let s = String(line)
      if let m = pattern.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) {
        func group(_ k: Int) -> String { String(s[Range(m.range(at: k), in: s)!]) }
        out.append(
          Actual(
            file: group(1), line: Int(group(2))!, column: Int(group(3))!, severity: group(4),
            message: group(5)))
      } else if s.hasPrefix("error:") || s.hasPrefix("warning:")
        || s.contains(": error:") && !s.contains(":")
      {
        unlocated.append(s)
      }
    }
    return (out, unlocated)
  }

  /// Problems with a run, or an empty list when it matches its annotations.
  public static func verify(
    expected: [Expectation], actual: [Actual], unlocated: [String]
  ) -> [String] {
    var problems: [String] = unlocated.map { "diagnostic without a location: \($0)" }
    var remaining = actual
    for e in expected {
      if let k = remaining.firstIndex(where: { a in
        a.severity == e.severity && a.line == e.line
          && (a.file == e.file || a.file.hasSuffix("/" + e.file))
          && (e.column == nil || e.column == a.column) && a.message.contains(e.text)
      }) {
        remaining.remove(at: k)
      } else {
        problems.append(
          "missing \(e.severity) at \(e.file):\(e.line)\(e.column.map { ":\($0)" } ?? ""): \(e.text)"
        )
      }
    }
    for a in remaining where a.severity != "note" {
      problems.append("unexpected \(a.severity) at \(a.file):\(a.line):\(a.column): \(a.message)")
    }
    return problems
  }
}
