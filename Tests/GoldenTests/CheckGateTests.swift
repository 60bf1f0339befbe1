import Foundation
import TestSupport
import Testing

/// `check` as a gate: the program's own method by default, `--all` for the
/// table, `--method M` for M; a method capped on purpose reports its bias.
@Suite struct CheckGateTests {
  static func rows(_ output: String) -> [Substring] {
    output.split(separator: "\n").drop { !$0.hasPrefix("  method ") }.dropFirst().prefix {
      !$0.hasPrefix("  (*")
    }.map { $0 }
  }

  @Test func byDefaultItChecksTheProgramsMethod() {
    let run = DriverRunner.run(["check", "poisoning_box.blv"], in: PackagePaths.samples)
    #expect(run.status == 0, "\(run.output)")
    let rows = Self.rows(run.output)
    // The program's implicit(neumann) and the implicit(exact) it is compared with.
    #expect(
      rows.count == 2 && rows.contains { $0.contains("implicit(neumann") && $0.contains("*") },
      "\(rows)")
    #expect(
      run.output.hasSuffix("is within tolerance (check --all checks every applicable method)\n"))
    let all = DriverRunner.run(["check", "--all", "poisoning_box.blv"], in: PackagePaths.samples)
    #expect(Self.rows(all.output).count > 4)
    #expect(all.output.contains("methods checked are within tolerance"))
  }

  @Test func methodOptionChecksThatMethod() {
    let run = DriverRunner.run(
      ["check", "--method", "unroll", "poisoning_box.blv"], in: PackagePaths.samples)
    #expect(run.status == 0, "\(run.output)")
    let rows = Self.rows(run.output)
    #expect(
      rows.count == 1 && rows[0].contains("unroll(reverse)") && rows[0].contains("*"), "\(rows)")
  }

  @Test func aMethodCappedOnPurposeReportsItsBiasNotAFailure() {
    let run = DriverRunner.run(
      ["check", "--method", "implicit(cg, iters: 2)", "poisoning_box.blv"], in: PackagePaths.samples
    )
    #expect(run.status == 0, "\(run.output)")
    #expect(!run.output.contains("FAIL"))
    #expect(
      run.output.contains(
        "capped on purpose: implicit(cg, iters: 2, tol: 1e-10): its linear solve stops at a relative residual of"
      ), "\(run.output)")
    #expect(run.output.contains("against implicit(exact)"))
    let truncated = DriverRunner.run(
      ["check", "distillation_truncated.blv"], in: PackagePaths.samples)
    #expect(truncated.status == 0)
    #expect(
      truncated.output.contains("capped on purpose: truncated(20): exact for its own map; bias"),
      "\(truncated.output)")
  }

  @Test func eachFailureGivesItsLikelyCause() throws {
    let dir = NSTemporaryDirectory() + "bilevelc-\(ProcessInfo.processInfo.processIdentifier)-kink"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // A lasso penalty: |w| has kinks, and gd leaves some entries of w near them.
    try """
    dim n = 30, d = 5
    data X = randn(n, d, seed: 1)
    data y = randn(n, seed: 2)
    outer lam: scalar = 0.1
    inner w: vector[d] = 0
    inner loss = mean((X @ w - y)^2) + lam * sum(abs(w))
    outer loss = mean((X @ w - y)^2)
    solve inner with gd(lr: 0.05, steps: 100)
    hypergradient with unroll
    solve outer with gd(lr: 0.1, steps: 2)
    """.write(toFile: dir + "/kink.blv", atomically: true, encoding: .utf8)
    let run = DriverRunner.run(["check", "kink.blv"], in: dir)
    #expect(run.status == 1)
    #expect(run.output.contains("  FAIL unroll(reverse)"), "\(run.output)")
    #expect(
      run.errors.contains("check: 1 of 1 methods checked failed: unroll(reverse)"), "\(run.errors)")
    #expect(
      run.output.contains("    likely cause: a kink: the losses apply abs to the variables"),
      "\(run.output)")
  }

  @Test func progressGoesToStandardErrorWhenAsked() {
    let quiet = DriverRunner.run(["check", "--all", "poisoning_box.blv"], in: PackagePaths.samples)
    #expect(!quiet.errors.contains("check: 1 of "), "no terminal, no --progress: \(quiet.errors)")
    // The verdict alone goes to standard error too.
    #expect(quiet.errors.hasPrefix("check: all ") && quiet.errors.hasSuffix("within tolerance\n"))
    let run = DriverRunner.run(
      ["check", "--all", "--progress", "poisoning_box.blv"], in: PackagePaths.samples)
    #expect(run.status == 0)
    #expect(run.errors.contains("check: 1 of "), "\(run.errors)")
    #expect(run.errors.contains("implicit(neumann, iters: 50, alpha: 1)"), "\(run.errors)")
    #expect(run.output == quiet.output, "progress leaves standard output alone")
  }
}
