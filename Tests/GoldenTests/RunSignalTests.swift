import Foundation
import TestSupport
import Testing

/// The spawned `bilevelc` under hostile process conditions: closed or full
/// standard streams, SIGINT/SIGTERM mid-run, and time budgets.
@Suite(.serialized) struct RunSignalTests {
  static let file = "quickstart.blv"

  @Test func aClosedStandardOutputIsAnErrorNotACrash() throws {
    let s = try Scratch("stdout-closed")
    let run = try s.run([Self.file], redirect: ">&-")
    #expect(run.status == 1, "\(run.err)")
    #expect(
      run.err == "bilevelc: error: cannot write to standard output: it is closed\n", "\(run.err)")
    // Output files still get their own descriptors, not the closed one's.
    let files = try s.run(["--json", "r.json", Self.file], redirect: ">&-")
    #expect(files.status == 1)
    #expect(s.read("r.json")?.hasPrefix("{") == true)
  }

  @Test func aFullStandardOutputIsAnErrorNotACrash() throws {
    let s = try Scratch("stdout-full")
    let run = try s.run([Self.file], redirect: "> /dev/full")
    #expect(run.status == 1)
    #expect(
      run.err.contains("bilevelc: error: cannot write to standard output: No space left on device"),
      "\(run.err)")
    #expect(run.err.split(separator: "\n").count == 1, "said once: \(run.err)")
    let help = try s.run(["--help"], redirect: "> /dev/full")
    #expect(help.status == 1 && help.err.contains("cannot write to standard output"))
  }

  @Test func closedOrFullStandardErrorKeepsTheStatus() throws {
    let s = try Scratch("stderr-closed")
    // A usage error with nowhere to say it: still exit 2, no crash.
    #expect(try s.run(["--nosuch", Self.file], redirect: "2>&- >&-").status == 2)
    #expect(try s.run(["--nosuch", Self.file], redirect: "2> /dev/full").status == 2)
    // A run that succeeds but cannot print its progress fails.
    #expect(try s.run(["--progress", Self.file], redirect: "2>&-").status == 1)
  }

  /// A long run: SIGINT (or SIGTERM) once the trace's first row is on disk
  /// stops it after that outer step with every output written.
  func interrupt(_ signal: Int32) throws {
    let s = try Scratch("signal-\(signal)")
    let program = try #require(s.read(Self.file)).replacingOccurrences(
      of: "adam(lr: 0.1, steps: 40)", with: "adam(lr: 0.1, steps: 20000)")
    try s.write(Self.file, program)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ISAPathSampleTests.executable)
    process.arguments = [
      "--json", "r.json", "--trace", "t.csv", "--save", "out", "--quiet", Self.file,
    ]
    process.currentDirectoryURL = URL(fileURLWithPath: s.directory)
    let (stdout, stderr) = (Pipe(), Pipe())
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    let errors = ErrorDrain(stderr.fileHandleForReading)
    let output = ErrorDrain(stdout.fileHandleForReading)
    // The trace streams into a hidden file beside t.csv until the run ends.
    var streamed = false
    for _ in 0..<600 where !streamed {
      usleep(100_000)
      let partial = s.files.filter { $0.hasPrefix(".t.csv.") }
      streamed = partial.contains { (s.read($0)?.split(separator: "\n").count ?? 0) >= 2 }
    }
    #expect(streamed, "no trace row appeared")
    #expect(!s.files.contains("t.csv"), "the trace is renamed into place only at the end")
    kill(process.processIdentifier, signal)
    process.waitUntilExit()
    let err = errors.wait()
    let out = output.wait()
    #expect(process.terminationReason == .exit)
    #expect(process.terminationStatus == 128 + signal, "\(err)")
    let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
    #expect(err.contains("bilevelc: \(name): stopped after outer step "), "\(err)")
    #expect(out.contains("outer loss: ") && out.contains("wall time: "), "\(out)")
    let json = try #require(s.read("r.json"))
    #expect(json.contains("\"interrupted\": true"), "\(json.prefix(400))")
    let steps = try #require(
      (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["outer_steps"]
        as? Int)
    #expect(steps >= 1 && steps < 20000)
    let rows = try #require(s.read("t.csv")).split(separator: "\n")
    #expect(rows.count == steps + 2, "a header and one row per step 0...\(steps)")
    #expect(s.read("out/result.json") == json)
    #expect(s.files.filter { $0.hasPrefix(".") }.isEmpty, "no temporary file is left")
    // The last good point resumes.
    let resumed = try s.run([
      "--outer", "adam(lr: 0.1, steps: \(steps + 2))", "--resume", "r.json", "--quiet", Self.file,
    ])
    #expect(resumed.status == 0, "\(resumed.err)")
    #expect(resumed.out.contains("resumed from outer step \(steps) of r.json"))
  }

  @Test func sigintStopsAtTheEndOfTheStepAndWritesEverything() throws { try interrupt(SIGINT) }
  @Test func sigtermStopsAtTheEndOfTheStepAndWritesEverything() throws { try interrupt(SIGTERM) }

  @Test func aRunFarBeyondItsTimeBudgetDoesNotStart() throws {
    let s = try Scratch("budget-s")
    let program = try #require(s.read(Self.file))
      .replacingOccurrences(of: "gd(lr: 0.05, steps: 300)", with: "gd(lr: 0.05, steps: 1000000000)")
      .replacingOccurrences(
        of: "adam(lr: 0.1, steps: 40)", with: "adam(lr: 0.1, steps: 1000000000)")
    try s.write(Self.file, program)
    let run = try s.run(["--json", "r.json", "--trace", "t.csv", Self.file])
    #expect(run.status == 1)
    #expect(
      run.err.contains("quickstart.blv:18:18: error: the run is estimated to take at least "),
      "\(run.err)")
    #expect(run.err.contains("over the 3600 s time budget"), "\(run.err)")
    #expect(s.files == [Self.file], "nothing written: \(s.files)")
    let grad = try s.run(["grad", "--budget-s", "60", Self.file])
    #expect(grad.status == 1 && grad.err.contains("estimated to take at least"), "\(grad.err)")
    #expect(try s.run(["explain", Self.file]).status == 0)
  }

  @Test(arguments: ["inf", "nan", "-3", "1e400", "x"])
  func aBadTimeBudgetIsAUsageError(_ value: String) throws {
    let s = try Scratch("budget-s-bad")
    let run = try s.run(["--budget-s", value, Self.file])
    #expect(run.status == 2)
    #expect(run.err.contains("--budget-s needs a positive, finite number of seconds"), "\(run.err)")
  }

  @Test func hugeStepCountsGiveAnEstimateNotATrap() throws {
    let s = try Scratch("budget-s-huge")
    let program = try #require(s.read(Self.file))
      .replacingOccurrences(
        of: "gd(lr: 0.05, steps: 300)", with: "gd(lr: 0.05, steps: 9000000000000000000)"
      )
      .replacingOccurrences(
        of: "adam(lr: 0.1, steps: 40)", with: "adam(lr: 0.1, steps: 9000000000000000000)")
    try s.write(Self.file, program)
    let run = try s.run([Self.file])
    #expect(run.status == 1, "\(run.err)")
    #expect(run.out.isEmpty || !run.out.contains("solved"))
    #expect(!run.err.contains("Fatal error"), "\(run.err)")
  }
}
