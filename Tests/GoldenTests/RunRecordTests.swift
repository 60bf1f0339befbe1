import Foundation
import TestSupport
import Testing

/// `--json` and `--trace`: a run's result files, read back as a user's script would.
@Suite struct RunRecordTests {
  static func temporary(_ name: String) -> String {
    NSTemporaryDirectory() + "bilevelc-\(ProcessInfo.processInfo.processIdentifier)-\(name)"
  }

  @Test func jsonAndTraceRecordTheRun() throws {
    let json = Self.temporary("stackelberg.json"), trace = Self.temporary("stackelberg.csv")
    defer {
      try? FileManager.default.removeItem(atPath: json);
      try? FileManager.default.removeItem(atPath: trace)
    }
    let run = DriverRunner.run(
      ["--json", json, "--trace", trace, "stackelberg_forward.blv"], in: PackagePaths.samples)
    #expect(run.status == 0, "\(run.errors)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json)))
        as? [String: Any])
    #expect(object["method"] as? String == "unroll(forward)")
    #expect(object["outer_steps"] as? Int == 40)
    #expect(object["fault"] is NSNull)
    let variables = try #require(object["outer_variables"] as? [String: Any])
    let phi = try #require((variables["phi"] as? [String: Any])?["values"] as? [Double])
    // The leader's analytic optimum (samples/stackelberg_forward.blv): 40/11.
    #expect(abs(phi[0] - 40.0 / 11.0) < 1e-6)
    let rows = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
    #expect(rows.first == "step,outer_loss,hypergradient_norm,inner_residual,norm_phi")
    #expect(rows.count == 42, "a header and one row per outer step, 0 through 40")
    // The trace's last loss is the summary's final loss, to the bit (both
    // written round-trip; compared as text, since Foundation's JSON reader
    // may round the last digit).
    let last = rows.last!.split(separator: ",")
    let text = try String(contentsOfFile: json, encoding: .utf8)
    #expect(text.contains("\"final_outer_loss\": \(last[1]),"))
  }

  @Test func jsonRecordsAFaultWithItsSource() throws {
    let json = Self.temporary("fault.json")
    defer { try? FileManager.default.removeItem(atPath: json) }
    let run = DriverRunner.run(
      ["--json", json, "log_of_negative.blv"], in: PackagePaths.samples + "/errors/numerics")
    #expect(run.status == 1)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json)))
        as? [String: Any])
    let fault = try #require(object["fault"] as? [String: Any])
    #expect(fault["line"] as? Int == 11 && fault["column"] as? Int == 36, "\(fault)")
    #expect((fault["message"] as? String)?.contains("log(c - 1)") == true)
    #expect(object["final_outer_loss"] as? Double != nil, "the last good point is kept")
  }

  /// Refused before any work: nothing solved, nothing printed.
  @Test func anUnwritableFileIsAnErrorNotACrash() {
    let run = DriverRunner.run(
      ["--json", "/nonexistent-dir/x.json", "stackelberg_forward.blv"], in: PackagePaths.samples)
    #expect(run.status == 2)
    #expect(
      run.errors.contains(
        "cannot write --json '/nonexistent-dir/x.json': its folder '/nonexistent-dir' does not exist"
      ))
    #expect(run.output.isEmpty)
  }
}
