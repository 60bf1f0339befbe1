import Foundation
import TestSupport
import Testing

/// The built `bilevelc` executable, spawned once per command and option in a
/// scratch directory holding a copy of a sample: exit status, standard
/// output, standard error, and exactly the files each run leaves behind.
/// Every option `bilevelc --help` lists must be exercised here.
@Suite(.serialized) struct ExecutableTests {
  struct Case: Sendable, CustomStringConvertible {
    let arguments: [String]
    let status: Int32
    /// Substrings of standard output and of standard error.
    var stdout: [String] = []
    var stderr: [String] = []
    /// Standard error must be empty (no progress, no diagnostics).
    var quietErrors = false
    /// Files (relative to the scratch directory) the run must create; no others may appear.
    var writes: [String] = []
    var input = ""
    var description: String { "bilevelc " + arguments.joined(separator: " ") }
  }

  static let file = "quickstart.blv"
  static let cases: [Case] = [
    Case(arguments: [file], status: 0, stdout: ["solved: ", "outer loss: "], quietErrors: true),
    Case(
      arguments: [
        "--json", "r.json", "--trace", "t.csv", "--plot", "p.svg", "--save", "out", file,
      ], status: 0,
      stdout: ["saved "], quietErrors: true,
      writes: ["r.json", "t.csv", "p.svg", "out", "out/result.json", "out/loglam.npy", "out/w.npy"]),
    Case(
      arguments: ["--trace", "t.csv", "--trace-values", file], status: 0, quietErrors: true,
      writes: ["t.csv"]),
    Case(
      arguments: ["--trace-values", file], status: 2,
      stderr: ["--trace-values needs --trace, --json or --save"]),
    Case(arguments: ["--progress", file], status: 0, stderr: ["outer step"]),
    Case(arguments: ["--quiet", file], status: 0, quietErrors: true),
    Case(arguments: ["--progress", "--quiet", file], status: 2, stderr: ["contradict"]),
    Case(
      arguments: [
        "--method", "implicit(cg, iters: 5)", "--inner", "gd(lr: 0.05, steps: 50)", "--outer",
        "gd(lr: 0.1, steps: 3)",
        "--set", "d=5", file,
      ], status: 0, stdout: ["implicit(cg, iters: 5", "3 outer steps"], quietErrors: true),
    Case(arguments: ["--set", "nosuch=3", file], status: 1, stderr: ["nosuch"]),
    Case(arguments: ["--unsafe-math", file], status: 0, quietErrors: true),
    Case(
      arguments: ["--timings", file], status: 0,
      stderr: [
        "timings: parse ", "timings: solve, over 41 hypergradient evaluations: inner solve ",
        " ms beyond it, outer update ",
      ]),
    Case(
      arguments: ["--timings", "--method", "unroll(reverse)", file], status: 0,
      stderr: ["hypergradient ", " ms (inner steps included), outer update "]),
    Case(arguments: ["--budget-mb", "512", file], status: 0, quietErrors: true),
    Case(
      arguments: ["--budget-mb", "-1", file], status: 2,
      stderr: ["--budget-mb needs a positive, finite number"]),
    Case(arguments: ["--plot", "p.png", file], status: 2, stderr: ["--plot writes SVG"]),
    Case(
      arguments: ["grad", "--json", "g.json", file], status: 0, stdout: ["at the initial point"],
      quietErrors: true, writes: ["g.json"]),
    Case(
      arguments: ["grad", "--trace", "t.csv", file], status: 2,
      stderr: ["--trace does not apply to 'grad'"]),
    Case(
      arguments: ["grad", "--plot", "p.svg", file], status: 2,
      stderr: ["--plot does not apply to 'grad'"]),
    // The verdict goes to standard error too (nothing else does).
    Case(arguments: ["check", file], status: 0, stderr: ["check: implicit(cg"]),
    Case(
      arguments: ["check", "--all", file], status: 0, stdout: ["unroll(reverse)", "closed_form"],
      stderr: ["check: all "]),
    Case(arguments: ["--all", file], status: 2, stderr: ["--all does not apply"]),
    Case(
      arguments: ["explain", file], status: 0, stdout: ["methods (time in inner steps"],
      quietErrors: true),
    Case(arguments: ["--emit", "ast", file], status: 0, quietErrors: true),
    Case(
      arguments: ["--emit", "graph", file], status: 0, stdout: ["# graph of quickstart.blv"],
      quietErrors: true),
    Case(arguments: ["--emit", "grad", file], status: 0, quietErrors: true),
    Case(arguments: ["--emit", "plan", file], status: 0, quietErrors: true),
    Case(arguments: ["--emit", "jax", file], status: 0, stdout: ["import jax"], quietErrors: true),
    Case(arguments: ["--emit", "nothing", file], status: 2, stderr: ["unknown stage 'nothing'"]),
    Case(arguments: ["repl"], status: 0, stdout: ["3"], input: "1 + 2\n"),
    Case(arguments: ["help"], status: 0, stdout: ["usage:"], quietErrors: true),
    Case(arguments: ["help", "functions"], status: 0, stdout: ["argmax("], quietErrors: true),
    Case(arguments: ["--help"], status: 0, stdout: ["options:"], quietErrors: true),
    Case(arguments: ["-h"], status: 0, stdout: ["options:"], quietErrors: true),
    Case(arguments: ["--version"], status: 0, stdout: ["kernels: "], quietErrors: true),
    Case(arguments: ["missing.blv"], status: 2, stderr: ["missing.blv"]),
    Case(arguments: [], status: 2),
    Case(
      arguments: ["--json", "/nonexistent-dir/r.json", file], status: 2,
      stderr: [
        "cannot write --json '/nonexistent-dir/r.json': its folder '/nonexistent-dir' does not exist"
      ]),
    Case(arguments: ["--budget-s", "600", file], status: 0, quietErrors: true),
    Case(
      arguments: ["--budget-s", "0", file], status: 2,
      stderr: ["--budget-s needs a positive, finite number of seconds"]),
    Case(
      arguments: ["--budget-s", "1e-9", "--json", "r.json", file], status: 1,
      stderr: ["quickstart.blv:18:", "the run is estimated to take at least", "raise --budget-s"]),
    Case(arguments: ["--data-root", ".", file], status: 0, quietErrors: true),
    Case(
      arguments: ["--data-root", "nosuch", file], status: 2,
      stderr: ["--data-root 'nosuch' is not a folder"]),
    Case(
      arguments: ["check", "--json", "r.json", file], status: 2,
      stderr: ["--json does not apply to 'check'"]),
    Case(
      arguments: ["explain", "--save", "out", file], status: 2,
      stderr: ["--save does not apply to 'explain'"]),
    Case(
      arguments: ["--emit", "plan", "--budget-s", "5", file], status: 2,
      stderr: ["--budget-s does not apply to 'emit'"]),
  ]

  @Test(arguments: cases)
  func run(_ c: Case) throws {
    let directory =
      NSTemporaryDirectory()
      + "bilevelc-exe-\(ProcessInfo.processInfo.processIdentifier)-\(abs(c.description.hashValue))"
    try? FileManager.default.removeItem(atPath: directory)
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try FileManager.default.copyItem(
      atPath: PackagePaths.samples + "/" + Self.file, toPath: directory + "/" + Self.file)
    let (out, err, status) = try Self.spawn(c.arguments, in: directory, input: c.input)
    #expect(status == c.status, "\(c): \(err)")
    for s in c.stdout { #expect(out.contains(s), "\(c): standard output lacks '\(s)'") }
    for s in c.stderr { #expect(err.contains(s), "\(c): standard error lacks '\(s)': \(err)") }
    if c.quietErrors { #expect(err.isEmpty, "\(c): \(err)") }
    if c.status == 2 {
      #expect(out.isEmpty || out.contains("usage"), "\(c): a usage error prints no results")
    }
    let left = Set(
      (FileManager.default.subpaths(atPath: directory) ?? []).filter { $0 != Self.file })
    #expect(left == Set(c.writes), "\(c): wrote \(left.sorted())")
    if c.writes.contains("p.svg") {
      #expect(
        try String(contentsOfFile: directory + "/p.svg", encoding: .utf8).hasSuffix("</svg>\n"))
    }
  }

  /// Resuming a run's JSON continues from its last step.
  @Test func resume() throws {
    let directory =
      NSTemporaryDirectory() + "bilevelc-exe-resume-\(ProcessInfo.processInfo.processIdentifier)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try FileManager.default.copyItem(
      atPath: PackagePaths.samples + "/" + Self.file, toPath: directory + "/" + Self.file)
    let first = try Self.spawn(
      ["--outer", "adam(lr: 0.2, steps: 3)", "--json", "a.json", Self.file], in: directory)
    #expect(first.status == 0, "\(first.err)")
    let second = try Self.spawn(
      ["--outer", "adam(lr: 0.2, steps: 5)", "--resume", "a.json", Self.file], in: directory)
    #expect(second.status == 0, "\(second.err)")
    #expect(second.out.contains("resumed from outer step 3 of a.json"), "\(second.out)")
    let missing = try Self.spawn(["--resume", "none.json", Self.file], in: directory)
    #expect(missing.status == 2 && missing.err.contains("cannot read 'none.json'"))
  }

  /// Every option of `bilevelc --help` appears in some case.
  @Test func everyOptionIsExercised() throws {
    let help = try Self.spawn(["--help"], in: PackagePaths.samples).out
    let options = help.split(separator: "\n").compactMap { line -> String? in
      guard line.hasPrefix("  --") else { return nil }
      return String(line.dropFirst(2).prefix { $0 != " " })
    }
    #expect(options.count >= 15)
    let used = Set(Self.cases.flatMap(\.arguments) + ["--resume"])
    for o in options { #expect(used.contains(o), "no executable test uses \(o)") }
  }

  /// The built bilevelc in `directory`, with `input` on standard input;
  /// `memoryKB` caps its address space (through the shell's ulimit).
  static func spawn(
    _ arguments: [String], in directory: String, input: String = "", memoryKB: Int? = nil
  ) throws -> (out: String, err: String, status: Int32) {
    let process = Process()
    if let memoryKB {
      process.executableURL = URL(fileURLWithPath: "/bin/sh")
      process.arguments =
        ["-c", "ulimit -v \(memoryKB); exec \"$0\" \"$@\"", ISAPathSampleTests.executable]
        + arguments
    } else {
      process.executableURL = URL(fileURLWithPath: ISAPathSampleTests.executable)
      process.arguments = arguments
    }
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    let (stdin, stdout, stderr) = (Pipe(), Pipe(), Pipe())
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    // Drain standard error on its own thread so neither pipe fills.
    let errors = ErrorDrain(stderr.fileHandleForReading)
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (String(decoding: out, as: UTF8.self), errors.wait(), process.terminationStatus)
  }
}

/// Reads a pipe to its end on a background thread.
final class ErrorDrain: @unchecked Sendable {
  private var data = Data()
  private let done = DispatchSemaphore(value: 0)

  init(_ handle: FileHandle) {
    Thread.detachNewThread { [self] in
      data = handle.readDataToEndOfFile()
      done.signal()
    }
  }

  func wait() -> String {
    done.wait()
    return String(decoding: data, as: UTF8.self)
  }
}
