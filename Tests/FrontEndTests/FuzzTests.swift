import BilevelCore
import Foundation
import TestSupport
import Testing

@testable import BilevelFrontEnd

/// Seeded fuzzing of the whole front half (parse, also as a REPL line;
/// elaborate, simplify, dump, evaluate the losses). A crash kills the test process; every diagnostic
/// must carry a location and render as `path:line:col: severity:`.
/// `BILEVELC_FUZZ_TRACE=FILE` writes each input to FILE before it runs (one
/// worker), so the input that crashed can be recovered;
/// `BILEVELC_FUZZ_STATS=1` prints the commonest first errors of mutations.
@Suite struct FuzzTests {
  /// `BILEVELC_FUZZ_SEED` and `BILEVELC_FUZZ_COUNT` override these for a longer hunt.
  static let seed: UInt64 =
    ProcessInfo.processInfo.environment["BILEVELC_FUZZ_SEED"].flatMap { UInt64($0) }
    ?? 0x5EED_B11E_7E1C
  static let inputCount =
    ProcessInfo.processInfo.environment["BILEVELC_FUZZ_COUNT"].flatMap { Int($0) } ?? 10_000

  static let vocabulary: [String] =
    Keyword.allCases.map(\.rawValue) + Symbol.allCases.map(\.rawValue)
    + [
      "x", "w", "v", "z", "n", "d", "m", "t", "X", "y", "W", "V", "A", "b", "lam", "f", "g", "h",
      "mean", "sum", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "softplus", "sin",
      "cos", "max",
      "logsumexp", "norm", "dot", "softmax", "log_softmax", "cross_entropy", "logistic_loss",
      "solve", "eye",
      "zeros", "ones", "diag", "outer", "concat", "reshape", "csv", "npy", "randn", "rand", "axis",
      "seed",
      "gd", "momentum", "adam", "newton", "fixpoint", "unroll", "reverse", "forward", "checkpoints",
      "truncated",
      "first_order", "finite_difference", "evograd", "implicit", "cg", "neumann", "exact",
      "closed_form", "auto", "proxy", "params", "global", "local", "linearized", "refit",
      "lr", "steps", "iters", "tol", "alpha", "eps", "sigma", "tau", "budget_mb", "max_steps",
      "beta",
      "0", "1", "2", "3", "5", "0.5", ".5", "1e-3", "1_000", "100", "-1", "1e999",
      "99999999999999999999",
      "\"quickstart.blv\"", "\"x.csv\"", "\"\"", "\"data/{t}.csv\"", "\n", "\n", "\n", "#c\n", "λ",
      "$", "\u{FF}",
    ]

  static let statementStarts = [
    "dim", "data", "outer", "inner", "let", "def", "tasks", "solve", "hypergradient",
    "inner loss =", "outer loss =", "data X =", "inner w: vector[", "outer l: scalar =",
    "proxy w = A @ l with params A:",
  ]

  /// Every sample program, valid and invalid, with its bytes; samples/bench/
  /// (the samples' shapes at other sizes) stays out, so that adding a
  /// benchmark does not reshuffle the seeded draws.
  static let corpus: [(path: String, bytes: [UInt8])] =
    PackagePaths.files(under: PackagePaths.samples, withExtension: "blv").filter {
      !$0.contains("/bench/")
    }.compactMap { p in
      FileManager.default.contents(atPath: p).map { (p, [UInt8]($0)) }
    }

  /// Data files read once; only regular files below samples/ and not huge.
  final class FileCache: @unchecked Sendable {
    let lock = NSLock()
    var cache: [String: [UInt8]?] = [:]
    func read(_ path: String) -> [UInt8]? {
      lock.lock()
      defer { lock.unlock() }
      if let hit = cache[path] { return hit }
      var value: [UInt8]? = nil
      var isDirectory: ObjCBool = false
      let standard = (path as NSString).standardizingPath
      if standard.hasPrefix(PackagePaths.samples + "/"),
        FileManager.default.fileExists(atPath: standard, isDirectory: &isDirectory),
        !isDirectory.boolValue,
        let attributes = try? FileManager.default.attributesOfItem(atPath: standard),
        (attributes[.size] as? NSNumber)?.intValue ?? .max < 1 << 20
      {
        value = FileManager.default.contents(atPath: standard).map { [UInt8]($0) }
      }
      cache[path] = value
      return value
    }
  }

  /// Input `k`: its own generator, so the inputs do not depend on the split across threads.
  static func input(_ k: Int) -> (kind: String, path: String, bytes: [UInt8]) {
    var r = SplitMix(state: seed ^ (UInt64(k) &* 0xD1B5_4A32_D192_ED03))
    let fuzzPath = PackagePaths.samples + "/fuzz.blv"
    switch k % 10 {
    case 0, 1:
      let n = r.below(r.chance(80) ? 64 : 400)
      let ascii = r.chance(50)
      return (
        "bytes", fuzzPath,
        (0..<n).map { _ in UInt8(truncatingIfNeeded: ascii ? 32 + r.below(96) : r.below(256)) }
      )
    case 2, 3, 4:
      var text = ""
      for _ in 0..<(1 + r.below(40)) {
        if text.isEmpty || text.hasSuffix("\n") && r.chance(70) {
          text += r.pick(statementStarts) + " "
        }
        text += r.pick(vocabulary) + (r.chance(70) ? " " : "")
      }
      return ("tokens", fuzzPath, Array(text.utf8))
    default:
      guard !corpus.isEmpty else { return ("bytes", fuzzPath, []) }
      // Valid programs two times in three: their mutations reach deeper.
      let valid = corpus.filter { !$0.path.contains("/errors/") }
      let pool = valid.isEmpty || r.chance(33) ? corpus : valid
      let sample = pool[r.below(pool.count)]
      var bytes = sample.bytes
      for _ in 0..<(r.chance(30) ? 2 + r.below(3) : 1) { mutate(&bytes, &r) }
      return ("mutation", sample.path, bytes)
    }
  }

  static let identifiers = vocabulary.filter {
    $0.first.map { $0.isLetter || $0 == "_" } == true && Keyword(rawValue: $0) == nil
  }
  static let numbers = [
    "0", "1", "2", "3", "9", "-1", "0.5", "1e9", "1e-9", "3000", "100000", "1e999", "20",
  ]
  static let operators = ["+", "-", "*", "/", "@", "^"]

  static func mutate(_ bytes: inout [UInt8], _ r: inout SplitMix) {
    let n = bytes.count
    switch r.below(12) {
    case 0 where n > 0:  // flip one bit
      bytes[r.below(n)] ^= UInt8(1) << UInt8(r.below(8))
    case 1 where n > 0:  // replace a byte by a printable one
      bytes[r.below(n)] = UInt8(32 + r.below(95))
    case 2 where n > 0:  // delete a short run
      let at = r.below(n)
      bytes.removeSubrange(at..<min(n, at + 1 + r.below(8)))
    case 3:  // insert a token
      bytes.insert(
        contentsOf: Array((r.pick(vocabulary) + (r.chance(50) ? " " : "")).utf8), at: r.below(n + 1)
      )
    case 4, 5:  // duplicate, swap or delete lines
      var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
      guard lines.count > 1 else { return }
      let a = r.below(lines.count), b = r.below(lines.count)
      switch r.below(3) {
      case 0: lines.insert(lines[a], at: b)
      case 1: lines.swapAt(a, b)
      default: lines.remove(at: a)
      }
      bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
    case 6 where r.chance(30):  // truncate
      bytes.removeSubrange(r.below(n + 1)...)
    default:  // replace one token by another of its kind: mostly still parses
      let tokens = Lexer.tokenize(SourceFile(path: "", bytes: bytes)).tokens
      // Prefer a token that has same-kind substitutes.
      var t = tokens[r.below(tokens.count)]
      for _ in 0..<6 {
        if case .symbol(let s) = t.kind, !operators.contains(s.rawValue) {
          t = tokens[r.below(tokens.count)]
        } else if [.newline, .end, .string, .invalid].contains(t.kind) {
          t = tokens[r.below(tokens.count)]
        } else {
          break
        }
      }
      let replacement: String
      switch t.kind {
      case .identifier:
        let own = tokens.filter { $0.kind == .identifier }.map(\.text)
        replacement = r.chance(50) ? r.pick(own) : r.pick(identifiers)
      case .number: replacement = r.pick(numbers)
      case .symbol(let s) where operators.contains(s.rawValue): replacement = r.pick(operators)
      case .keyword(.inner), .keyword(.outer): replacement = r.pick(["inner", "outer"])
      case .keyword(.scalar), .keyword(.vector), .keyword(.matrix):
        replacement = r.pick(["scalar", "vector[2]", "matrix[2, 3]", "vector[n]", "matrix[n, d]"])
      default: replacement = r.pick(vocabulary)
      }
      bytes.replaceSubrange(t.range.start..<t.range.end, with: Array(replacement.utf8))
    }
  }

  struct Outcome {
    var firstError = ""
    var accepted = false
    var problems: [String] = []
  }

  /// The whole front half on one input; problems are located-ness failures.
  static func check(path: String, bytes: [UInt8], files: FileCache) -> Outcome {
    var outcome = Outcome()
    let file = SourceFile(path: path, bytes: bytes)
    let (source, syntax) = Parser.parse(file)
    var diagnostics = syntax
    var program: Program? = nil
    if syntax.isEmpty {
      _ = ASTPrinter.print(source)
      var options = CompileOptions()
      options.maximumTensorElements = 20_000
      options.readFile = { files.read($0) }
      let result = Elaborator.elaborate(source, options: options)
      diagnostics += result.diagnostics
      program = result.program
    }
    // The REPL's entry point sees the same text as one typed line.
    for d in diagnostics + Parser.parseREPLLine(file).diagnostics {
      outcome.problems += problems(d, path: path)
    }
    outcome.firstError =
      diagnostics.first { $0.severity == .error }.map { String($0.message.prefix(45)) } ?? ""
    guard let program, !diagnostics.contains(where: { $0.severity == .error }) else {
      return outcome
    }
    outcome.accepted = true
    let (simple, _) = program.simplified()
    _ = simple.dump(title: path)
    let evaluation = ProgramEvaluation(initialPointOf: simple)
    let roots = [simple.innerLoss, simple.innerFixpoint?.map, simple.outerLoss].compactMap { $0 }
    for root in roots {
      if evaluation.isPerTask(root) {
        for t in 0..<evaluation.taskCount { _ = evaluation.evaluate(root, task: t) }
      } else {
        _ = evaluation.evaluate(root)
      }
    }
    return outcome
  }

  static func problems(_ d: Diagnostic, path: String) -> [String] {
    var out: [String] = []
    guard let range = d.range else { return ["no location: \(d.severity.rawValue): \(d.message)"] }
    if range.start > range.file.bytes.count || range.end > range.file.bytes.count {
      out.append("range \(range.start)..<\(range.end) outside its file: \(d.message)")
    }
    let rendered = DiagnosticRenderer.render([Diagnostic(d.severity, Message(d.message), at: range)]
    )
    let head = String(rendered.prefix { $0 != "\n" })
    let prefix = "\(range.file.path):"
    let rest = head.hasPrefix(prefix) ? String(head.dropFirst(prefix.count)) : ""
    if !isLineColumnSeverity(rest) {
      out.append("badly rendered: \(head)")
    }
    for n in d.notes where n.range == nil { out.append("note without a location: \(n.message)") }
    return out
  }

  /// `LINE:COL: error: ...` (or warning, note); no regular expression, it is slow.
  static func isLineColumnSeverity(_ text: String) -> Bool {
    var rest = Substring(text)
    for _ in 0..<2 {
      let digits = rest.prefix { $0.isASCII && $0.isNumber }
      guard !digits.isEmpty, rest.dropFirst(digits.count).first == ":" else { return false }
      rest = rest.dropFirst(digits.count + 1)
    }
    return ["error", "warning", "note"].contains { rest.hasPrefix(" \($0): ") }
  }

  static func threadCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
  }

  @Test func fuzzTheFrontHalf() throws {
    #expect(!Self.corpus.isEmpty)
    final class Results: @unchecked Sendable {
      let lock = NSLock()
      var accepted = 0, rejected = 0
      var byKind: [String: (accepted: Int, rejected: Int)] = [:]
      var problems: [String] = []
      var histogram: [String: Int] = [:]
    }
    let results = Results()
    let files = FileCache()
    let trace = ProcessInfo.processInfo.environment["BILEVELC_FUZZ_TRACE"]
    let workers = trace == nil ? 2 : 1
    let started = Date()
    let group = DispatchGroup()
    for w in 0..<workers {
      group.enter()
      let thread = Thread {
        for k in stride(from: w, to: Self.inputCount, by: workers) {
          let (kind, path, bytes) = Self.input(k)
          if let trace { _ = FileManager.default.createFile(atPath: trace, contents: Data(bytes)) }
          let began = Self.threadCPUSeconds()
          var outcome = Self.check(path: path, bytes: bytes, files: files)
          // Inputs take about a millisecond; one that takes seconds of this thread's CPU is a
          // blow-up. CPU time, not wall time: a loaded machine must not fail the test.
          let took = Self.threadCPUSeconds() - began
          if took > 5 { outcome.problems.append("took \(Int(took)) s of CPU") }
          results.lock.lock()
          if kind == "mutation" { results.histogram[outcome.firstError, default: 0] += 1 }
          if outcome.accepted { results.accepted += 1 } else { results.rejected += 1 }
          results.byKind[kind, default: (0, 0)].accepted += outcome.accepted ? 1 : 0
          results.byKind[kind, default: (0, 0)].rejected += outcome.accepted ? 0 : 1
          if !outcome.problems.isEmpty {
            let text = String(decoding: bytes, as: UTF8.self)
            results.problems += outcome.problems.map {
              "input \(k) (\(kind) of \(path)): \($0)\n--- input:\n\(text)\n---"
            }
          }
          results.lock.unlock()
        }
        group.leave()
      }
      thread.stackSize = 512 << 20
      thread.start()
    }
    group.wait()
    let seconds = Date().timeIntervalSince(started)
    let kinds = results.byKind.keys.sorted().map {
      "\($0) \(results.byKind[$0]!.accepted)/\(results.byKind[$0]!.rejected)"
    }
    let summary =
      "fuzz: \(Self.inputCount) inputs, \(results.accepted) accepted, \(results.rejected) rejected "
      + "(accepted/rejected: \(kinds.joined(separator: ", "))) in \(String(format: "%.1f", seconds)) s"
    print(summary)
    if ProcessInfo.processInfo.environment["BILEVELC_FUZZ_STATS"] != nil {
      for (m, c) in results.histogram.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) })
        .prefix(40)
      { print("\(c)\t\(m)") }
    }
    #expect(results.accepted + results.rejected == Self.inputCount, Comment(rawValue: summary))
    #expect(
      results.problems.isEmpty,
      Comment(rawValue: results.problems.prefix(5).joined(separator: "\n")))
  }
}
