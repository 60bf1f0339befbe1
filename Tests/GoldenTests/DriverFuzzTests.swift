import Foundation
import TestSupport
import Testing

/// Seeded mutation fuzzing of the whole driver, in process: every sample
/// with its numbers, step counts (up to 10⁶ and beyond), solvers, methods
/// and shapes changed at random, then explained (the estimates), solved
/// under a memory budget with the JSON result and the trace written to a
/// temporary folder, and asked for one hypergradient. A crash kills the
/// test process; every run must end in success (exit 0, with its files
/// written) or in a located error (exit 1, `file:line:col: error:`).
/// `BILEVELC_FUZZ_SEED` and `BILEVELC_FUZZ_COUNT` override the defaults
/// for a longer hunt; `BILEVELC_FUZZ_STATS=1` prints how the inputs ended.
@Suite struct DriverFuzzTests {
  static let seed: UInt64 =
    ProcessInfo.processInfo.environment["BILEVELC_FUZZ_SEED"].flatMap { UInt64($0) }
    ?? 0xD417_E7F0
  // 500 inputs take ~14 s in a debug build on a loaded 2-core machine.
  static let inputCount =
    ProcessInfo.processInfo.environment["BILEVELC_FUZZ_COUNT"].flatMap { Int($0) } ?? 500

  static let samples = PackagePaths.files(under: PackagePaths.samples, withExtension: "blv").filter
  { !$0.contains("/errors/") }

  static let numbers = ["0", "1", "2", "3", "0.5", "1e-3", "1e3", "-1", "10", "0.01", "7", "1e300"]
  static let stepCounts = ["0", "1", "2", "1000000", "2e15", "-3", "1e6", "999999"]
  static let dims = ["1", "2", "3", "7"]
  static let innerSolvers = [
    "gd(lr: 0.1, steps: 3)", "gd(lr: 1e300, steps: 2)", "momentum(lr: 0.1, steps: 3)",
    "adam(lr: 0.01, steps: 3)", "newton(steps: 2)", "gd(lr: 0.1, steps: 1000000)",
    "adam(lr: 0, steps: 2)",
  ]
  static let methods = [
    "unroll(reverse)", "unroll(reverse, checkpoints: 2)", "unroll(forward)", "truncated(2)",
    "first_order", "finite_difference(eps: 0.01)", "implicit(cg, iters: 5)",
    "implicit(neumann, iters: 5)", "implicit(exact)", "closed_form", "auto(budget_mb: 0.001)",
    "evograd", "auto",
  ]
  static let outerOptions = [
    "gd(lr: 0.01, steps: 2)", "adam(lr: 0.1, steps: 1)", "gd(lr: 1e300, steps: 2)",
    "adam(lr: 0.1, steps: 0)", "gd(lr: -1, steps: 1)",
  ]
  static let budgets = ["0.001", "1", "64", "1e13"]

  /// The code part of a line (before any comment).
  static func code(_ line: String) -> String {
    String(line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0])
  }

  /// One to three mutations: a number, a step count, the inner solver, the
  /// method, or a vector's length.
  static func mutate(_ text: String, _ r: inout SplitMix) -> String {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    for _ in 0..<(1 + r.below(3)) {
      let kind = r.below(5)
      let pattern: Regex<Substring>
      let choices: [String]
      switch kind {
      case 0: (pattern, choices) = (/steps: *[0-9]+/, stepCounts.map { "steps: " + $0 })
      case 1:
        (pattern, choices) = (/solve inner with .*/, innerSolvers.map { "solve inner with " + $0 })
      case 2:
        (pattern, choices) = (/hypergradient with .*/, methods.map { "hypergradient with " + $0 })
      case 3:
        (pattern, choices) = (/vector\[[A-Za-z0-9]+\]/, dims.map { "vector[\($0)]" } + ["scalar"])
      default: (pattern, choices) = (/[0-9]+(?:\.[0-9]+)?(?:e-?[0-9]+)?/, numbers)
      }
      let candidates = lines.indices.filter { i in
        let c = code(lines[i])
        guard !c.contains("seed"), !c.contains("\""), !c.contains("tasks") else { return false }
        // Sizes stay small, so a mutant's run stays short.
        if kind == 4 && c.hasPrefix("dim") { return false }
        return c.contains(pattern)
      }
      guard !candidates.isEmpty else { continue }
      let i = candidates[r.below(candidates.count)]
      let c = code(lines[i])
      let matches = c.ranges(of: pattern)
      let range = matches[r.below(matches.count)]
      lines[i] = c.replacingCharacters(in: range, with: choices[r.below(choices.count)])
    }
    return lines.joined(separator: "\n")
  }

  /// Whether running the mutant's solvers stays short: no count over 500.
  static func isShortRun(_ text: String) -> Bool {
    for m in text.matches(of: /(steps|iters|max_steps): *([0-9.e]+)/) {
      guard let n = Double(m.output.2), n <= 500 else { return false }
    }
    return true
  }

  static var located: Regex<Substring> { /[^\s:]+:[0-9]+:[0-9]+: error:/ }

  /// A run ends in success or in a located error; nothing else. A failure
  /// quotes the program, so it can be rerun as it was.
  static func expectClean(_ run: DriverRunner.Run, _ what: String, _ text: String) {
    #expect(
      run.status == 0 || run.status == 1, "\(what): exit \(run.status)\n\(run.errors)\n\(text)")
    if run.status == 1 {
      #expect(
        run.errors.contains(located), "\(what): an unlocated failure\n\(run.errors)\n\(text)")
    }
    // Every error, not only the first, is located (a run-time fault too).
    for line in run.errors.split(separator: "\n") where line.contains("error:") {
      #expect(line.contains(located), "\(what): an unlocated error\n\(run.errors)\n\(text)")
    }
  }

  @Test func mutatedProgramsRunThroughTheDriverOrFailLocated() throws {
    let directory = NSTemporaryDirectory() + "bilevelc-driver-fuzz-\(getpid())"
    let files = FileManager.default
    try? files.removeItem(atPath: directory)
    try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? files.removeItem(atPath: directory) }
    // Samples read their data relative to themselves.
    for folder in ["data", "sin"] {
      try files.createSymbolicLink(
        atPath: directory + "/" + folder, withDestinationPath: PackagePaths.samples + "/" + folder)
    }
    var r = SplitMix(state: Self.seed)
    var outcomes: [String: Int] = [:]
    for k in 0..<Self.inputCount {
      let sample = Self.samples[k % Self.samples.count]
      let text = Self.mutate(try String(contentsOfFile: sample, encoding: .utf8), &r)
      let name = "mutant\(k).blv"
      try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
      let what = "\(name) from \((sample as NSString).lastPathComponent)"

      let explained = DriverRunner.run(["explain", name], in: directory)
      Self.expectClean(explained, what + ", explain", text)
      guard explained.status == 0, Self.isShortRun(text) else {
        outcomes[explained.status == 0 ? "explained, long" : "rejected", default: 0] += 1
        continue
      }
      let json = "out\(k).json"
      let trace = "trace\(k).csv"
      let budget = Self.budgets[r.below(Self.budgets.count)]
      let outer = Self.outerOptions[r.below(Self.outerOptions.count)]
      let run = DriverRunner.run(
        [name, "--budget-mb", budget, "--outer", outer, "--json", json, "--trace", trace],
        in: directory)
      Self.expectClean(run, what + ", run --budget-mb \(budget) --outer '\(outer)'", text)
      if run.status == 0 {
        let written = try #require(
          files.contents(atPath: directory + "/" + json), "\(what): no JSON written")
        #expect(
          (try? JSONTree.parse(String(decoding: written, as: UTF8.self))) != nil,
          "\(what): the JSON does not parse")
        #expect(files.fileExists(atPath: directory + "/" + trace), "\(what): no trace written")
      }
      outcomes[run.status == 0 ? "solved" : "located error", default: 0] += 1
      let grad = DriverRunner.run(["grad", name, "--budget-mb", budget], in: directory)
      Self.expectClean(grad, what + ", grad", text)
    }
    if ProcessInfo.processInfo.environment["BILEVELC_FUZZ_STATS"] != nil { print(outcomes) }
    // The mutants reach every stage: some solve, some fail at run time or compile time.
    #expect(outcomes["solved", default: 0] > 0, "\(outcomes)")
    #expect(outcomes["rejected", default: 0] + outcomes["located error", default: 0] > 0)
  }
}
