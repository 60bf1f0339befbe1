import BilevelCore
import BilevelFrontEnd
import Foundation

/// `--method`, `--inner`, `--outer` and `--set`: statements substituted into
/// the parsed program before elaboration, so they are checked exactly as if
/// written in the file. Each override text is its own SourceFile (named by
/// its option), and diagnostics point into it.
struct Overrides {
  var method: String? = nil
  var inner: String? = nil
  var outer: String? = nil
  /// `NAME=VALUE` texts, in command-line order.
  var sets: [String] = []

  var isEmpty: Bool { method == nil && inner == nil && outer == nil && sets.isEmpty }

  /// The program with the overrides in place, the data names `--set` changed
  /// (they must be scalars, checked after elaboration) and any errors.
  func apply(
    to source: SourceProgram
  ) -> (
    program: SourceProgram, setData: [(name: String, range: SourceRange)], diagnostics: [Diagnostic]
  ) {
    var statements = source.statements
    var diagnostics: [Diagnostic] = []
    var setData: [(String, SourceRange)] = []
    let solvers: [(String, String?, (SolverCall) -> Statement.Kind, (Statement.Kind) -> Bool)] = [
      (
        "--inner", inner, { .solve(level: .inner, $0) },
        {
          if case .solve(.inner, _) = $0 { return true }; return false
        }
      ),
      (
        "--method", method, { .hypergradient($0) },
        {
          if case .hypergradient = $0 { return true }; return false
        }
      ),
      (
        "--outer", outer, { .solve(level: .outer, $0) },
        {
          if case .solve(.outer, _) = $0 { return true }; return false
        }
      ),
    ]
    for (option, text, make, matches) in solvers {
      guard let text else { continue }
      let file = SourceFile(path: option, text: text)
      let (call, errors) = Parser.parseSolverCallText(file)
      diagnostics += errors
      guard let call, errors.isEmpty else { continue }
      let statement = Statement(kind: make(call), range: call.range, keywordRange: call.name.range)
      if let i = statements.firstIndex(where: { matches($0.kind) }) {
        statements[i] = statement
      } else {
        statements.append(statement)
      }
    }
    var seen: Set<String> = []
    for text in sets {
      let file = SourceFile(path: "--set", text: text)
      guard let equals = text.utf8.firstIndex(of: UInt8(ascii: "=")) else {
        diagnostics.append(
          .error(
            .setNeedsNameAndValue(text), at: SourceRange(file: file, start: 0, end: text.utf8.count)
          ))
        continue
      }
      let offset = text.utf8.distance(from: text.utf8.startIndex, to: equals)
      let written = String(text[..<equals])
      let name = written.trimmingCharacters(in: .whitespaces)
      let lead = written.utf8.prefix { $0 == UInt8(ascii: " ") }.count
      let nameRange = SourceRange(file: file, start: lead, end: max(lead + name.utf8.count, 1))
      guard !name.isEmpty else {
        diagnostics.append(.error(.setNeedsNameAndValue(text), at: nameRange))
        continue
      }
      if !seen.insert(name).inserted {
        diagnostics.append(.error(.setTwice(name), at: nameRange))
        continue
      }
      let (value, errors) = Parser.parseExpressionText(file, startingAt: offset + 1)
      diagnostics += errors
      guard let value, errors.isEmpty else { continue }
      switch Self.replace(name, with: value, in: &statements) {
      case .replaced(let isData):
        if isData { setData.append((name, nameRange)) }
      case .notChangeable(let what):
        diagnostics.append(.error(.setNotChangeable(name, what: what), at: nameRange))
      case .missing:
        let candidates = statements.flatMap(Self.settableNames)
        diagnostics.append(
          .error(
            .setUnknownName(name, hint: Suggestions.hint(for: name, among: candidates)),
            at: nameRange))
      }
    }
    return (SourceProgram(file: source.file, statements: statements), setData, diagnostics)
  }

  enum Replacement { case replaced(isData: Bool), notChangeable(String), missing }

  static func replace(
    _ name: String, with value: Expr, in statements: inout [Statement]
  ) -> Replacement {
    for (i, s) in statements.enumerated() {
      switch s.kind {
      case .dims(var dims):
        guard let k = dims.firstIndex(where: { $0.name.name == name }) else { continue }
        dims[k].value = value
        statements[i] = Statement(kind: .dims(dims), range: s.range, keywordRange: s.keywordRange)
        return .replaced(isData: false)
      case .data(let n, let task, let type, _) where n.name == name:
        if task != nil { return .notChangeable("one value per task") }
        statements[i] = Statement(
          kind: .data(name: n, task: nil, type: type, value: value), range: s.range,
          keywordRange: s.keywordRange)
        return .replaced(isData: true)
      case .variable(let level, let n, _, _, _, _) where n.name == name:
        return .notChangeable("an \(level.rawValue) variable")
      case .letBinding(let n, _, _) where n.name == name:
        return .notChangeable("a 'let' binding")
      default: continue
      }
    }
    return .missing
  }

  static func settableNames(_ s: Statement) -> [String] {
    switch s.kind {
    case .dims(let dims): return dims.map(\.name.name)
    case .data(let n, _, _, _): return [n.name]
    default: return []
    }
  }

  /// Data that `--set` changed must be scalars.
  static func checkScalars(
    _ setData: [(name: String, range: SourceRange)], in program: Program
  ) -> [Diagnostic] {
    setData.compactMap { entry in
      guard let d = program.data.first(where: { $0.name == entry.name }), !d.shape.isScalar else {
        return nil
      }
      return .error(.setDataNotScalar(entry.name, shape: d.shape.description), at: entry.range)
    }
  }
}
