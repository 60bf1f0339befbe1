import Foundation
import TestSupport
import Testing

/// User numbers far beyond any real size (budgets, steps, checkpoints) reach
/// Int conversions and cost estimates: the spawned `bilevelc` must answer
/// with a message or an estimate and an exit status, never a trap.
@Suite struct HugeNumberTests {
  struct Spawned { let output: String, errors: String, status: Int32 }

  static func spawn(_ arguments: [String]) throws -> Spawned {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ISAPathSampleTests.executable)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: PackagePaths.samples)
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("huge-\(UUID()).out")
    let err = FileManager.default.temporaryDirectory.appendingPathComponent("huge-\(UUID()).err")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    defer {
      try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: err)
    }
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    try process.run()
    process.waitUntilExit()
    return Spawned(
      output: try String(contentsOf: out, encoding: .utf8),
      errors: try String(contentsOf: err, encoding: .utf8),
      status: process.terminationStatus)
  }

  /// quickstart with a non-quadratic inner loss (so auto unrolls) and these settings.
  static func program(inner: String, method: String) throws -> String {
    let text = try String(contentsOfFile: PackagePaths.samples + "/quickstart.blv", encoding: .utf8)
      .replacingOccurrences(of: "gd(lr: 0.05, steps: 300)", with: inner)
      .replacingOccurrences(of: "implicit(cg, iters: 20)", with: method)
      .replacingOccurrences(of: "mean((X @ w - y)^2)", with: "mean(tanh(X @ w - y)^2)")
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("huge-\(UUID()).blv")
      .path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test(arguments: ["1e13", "1e300"])
  func hugeBudgetsAreUnlimited(_ mb: String) throws {
    let run = try Self.spawn(["explain", "--budget-mb", mb, "quickstart.blv"])
    #expect(run.status == 0, "\(run.errors)")
    #expect(run.output.contains("implicit(cg"))
  }

  @Test(arguments: ["inf", "nan", "-1"])
  func nonFiniteBudgetsAreUsageErrors(_ mb: String) throws {
    let run = try Self.spawn(["explain", "--budget-mb", mb, "quickstart.blv"])
    #expect(run.status == 2, "\(run.errors)")
    #expect(run.errors.contains("--budget-mb needs a positive"), "\(run.errors)")
  }

  @Test(arguments: [
    ("gd(lr: 0.05, steps: 2e15)", "auto(budget_mb: 1e300)"),
    ("gd(lr: 0.05, steps: 2e15)", "unroll(reverse)"),
    ("gd(lr: 0.05, steps: 2e15)", "unroll(reverse, checkpoints: 1e15)"),
    ("adam(lr: 0.05, steps: 9e14)", "unroll(forward)"),
  ])
  func hugeStepCountsAreEstimatedNotTrapped(_ inner: String, _ method: String) throws {
    let path = try Self.program(inner: inner, method: method)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let run = try Self.spawn(["explain", path])
    #expect(run.status == 0, "\(run.errors.prefix(400))")
    #expect(run.output.contains("TB"), "\(run.output)")
  }
}
