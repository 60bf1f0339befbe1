import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation

enum FileContents {
  /// A regular file's bytes, or nil (missing, unreadable or a directory).
  static func read(_ path: String) -> [UInt8]? {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
      !isDirectory.boolValue
    else { return nil }
    return FileManager.default.contents(atPath: path).map { [UInt8]($0) }
  }
}

/// The front half of every command: read, parse, elaborate, simplify. The
/// REPL runs the same `simplify` on each line, and differentiates as
/// the solvers do (SolverProducts), with `Differentiator(program:)`.
struct Compilation {
  var source: SourceProgram?
  /// As elaborated, before rewriting (for node counts).
  var elaborated: Program?
  /// Simplified: what every later stage works on.
  var program: Program?
  var fired: [(rule: String, count: Int)] = []
  var diagnostics: [Diagnostic] = []
  /// Wall time per stage, in order, for `--timings`.
  var timings: [(stage: String, seconds: Double)] = []

  var failed: Bool { diagnostics.contains { $0.severity == .error } || elaborated == nil }

  /// Stops after parsing when `parseOnly`, or at the first stage with errors.
  /// The input file was missing or unreadable (a usage error, exit 2).
  var unreadable = false

  /// Stops after parsing when `parseOnly`, or at the first stage with errors.
  /// `overrides` replace statements after parsing (Overrides).
  static func compile(
    _ path: String, environment env: Environment, options: CompileOptions,
    overrides: Overrides = Overrides(),
    parseOnly: Bool = false
  ) -> Compilation {
    var c = Compilation()
    guard let bytes = FileContents.read(env.resolve(path)) else {
      c.diagnostics = [.error(.unreadableFile(path), at: nil)]
      c.unreadable = true
      return c
    }
    let file = SourceFile(path: path, bytes: bytes)
    var (source, syntaxDiagnostics) = c.timed("parse") { Parser.parse(file) }
    c.diagnostics = syntaxDiagnostics
    if !overrides.isEmpty && syntaxDiagnostics.isEmpty {
      let applied = overrides.apply(to: source)
      c.diagnostics += applied.diagnostics
      if !applied.setData.isEmpty && applied.diagnostics.isEmpty {
        // Whether the data `--set` changes are scalars is known from the program as written.
        let (original, errors) = c.timed("elaborate") {
          MethodDiagnostics.elaborate(source, options: options)
        }
        if let original, !errors.contains(where: { $0.severity == .error }) {
          c.diagnostics += Overrides.checkScalars(applied.setData, in: original)
        }
      }
      source = applied.program
    }
    c.source = source
    if parseOnly || !c.diagnostics.isEmpty { return c }
    let (program, diagnostics) = c.timed("elaborate") {
      MethodDiagnostics.elaborate(source, options: options)
    }
    c.diagnostics += diagnostics
    c.elaborated = program
    guard let program, !c.failed else { return c }
    let simplified = c.timed("simplify") { simplify(program, options: options) }
    c.program = simplified.program
    c.fired = simplified.fired
    return c
  }

  /// The rewriting stage: the program in normal form, and where `nodes`
  /// (the REPL's expression) went.
  static func simplify(
    _ program: Program, keeping nodes: [NodeID] = [], options: CompileOptions
  )
    -> (program: Program, kept: [NodeID], fired: [(rule: String, count: Int)])
  {
    program.simplified(unsafeMath: options.unsafeMath, keeping: nodes)
  }

  mutating func timed<T>(_ stage: String, _ body: () -> T) -> T {
    let start = ContinuousClock.now
    let result = body()
    let d = ContinuousClock.now - start
    timings.append((stage, Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18))
    return result
  }

  static func formatTimings(_ timings: [(stage: String, seconds: Double)]) -> String {
    let parts = timings.map { "\($0.stage) \(formatValue(($0.seconds * 1e6).rounded() / 1e3)) ms" }
    let total = timings.reduce(0) { $0 + $1.seconds }
    return "timings: " + parts.joined(separator: ", ")
      + "; total \(formatValue((total * 1e6).rounded() / 1e3)) ms\n"
  }

  func report(_ env: Environment) {
    if !diagnostics.isEmpty { env.standardError(DiagnosticRenderer.render(diagnostics)) }
  }
}
