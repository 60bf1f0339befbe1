/// A diagnostic is a value: stages collect them, one renderer prints them.
public struct Diagnostic: Sendable {
  public enum Severity: String, Sendable { case error, warning, note }

  public let severity: Severity
  public let message: String
  public let range: SourceRange?
  public var notes: [Diagnostic]

  public init(
    _ severity: Severity, _ message: Message, at range: SourceRange?, notes: [Diagnostic] = []
  ) {
    self.severity = severity
    self.message = message.text
    self.range = range
    self.notes = notes
  }

  public static func error(
    _ message: Message, at range: SourceRange?, notes: [Diagnostic] = []
  ) -> Diagnostic {
    Diagnostic(.error, message, at: range, notes: notes)
  }

  public static func warning(_ message: Message, at range: SourceRange?) -> Diagnostic {
    Diagnostic(.warning, message, at: range)
  }

  public static func note(_ message: Message, at range: SourceRange?) -> Diagnostic {
    Diagnostic(.note, message, at: range)
  }
}

/// Collects diagnostics in the order they are found.
public struct DiagnosticBag: Sendable {
  public private(set) var all: [Diagnostic] = []
  public init() {}

  public mutating func add(_ d: Diagnostic) { all.append(d) }
  public mutating func add(contentsOf ds: [Diagnostic]) { all.append(contentsOf: ds) }
  public mutating func error(_ m: Message, at r: SourceRange?, notes: [Diagnostic] = []) {
    all.append(.error(m, at: r, notes: notes))
  }
  public mutating func warning(_ m: Message, at r: SourceRange?) { all.append(.warning(m, at: r)) }

  public var hasErrors: Bool { all.contains { $0.severity == .error } }
  public var errorCount: Int { all.filter { $0.severity == .error }.count }
}

/// Thrown by a stage that cannot go on; carries everything found so far.
public struct CompileFailure: Error, Sendable {
  public let diagnostics: [Diagnostic]
  public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
}
