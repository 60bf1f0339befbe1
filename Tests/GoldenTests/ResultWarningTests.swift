import Foundation
import Testing
import TestSupport

/// Warnings before a result misleads, as a script reads them from `--json`.
@Suite struct ResultWarningTests {
  @Test func newtonStoppedAboveItsToleranceIsNotConverged() throws {
    let json = NSTemporaryDirectory() + "bilevelc-\(ProcessInfo.processInfo.processIdentifier)-newton.json"
    defer { try? FileManager.default.removeItem(atPath: json) }
    let run = DriverRunner.run(["--json", json, "newton_not_converged.blv"], in: PackagePaths.samples)
    #expect(run.status == 0, "\(run.errors)")
    #expect(run.output.contains("not converged"))
    #expect(!run.output.contains("solved:"))
    let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
    #expect(object["converged"] as? Bool == false)
    let warnings = try #require(object["warnings"] as? [String])
    #expect(warnings.contains { $0.hasPrefix("not converged: newton stopped at max_steps = 2") }, "\(warnings)")
    #expect(warnings.contains { $0.hasPrefix("implicit(exact) differentiates the inner solution") }, "\(warnings)")
  }

  @Test func aConvergedNewtonSaysSolvedWithoutWarnings() throws {
    let json = NSTemporaryDirectory() + "bilevelc-\(ProcessInfo.processInfo.processIdentifier)-decay.json"
    defer { try? FileManager.default.removeItem(atPath: json) }
    let run = DriverRunner.run(["--json", json, "logistic_feature_decay.blv"], in: PackagePaths.samples)
    #expect(run.status == 0, "\(run.errors)")
    #expect(run.output.contains("solved:"))
    let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
    #expect(object["converged"] as? Bool == true)
    #expect((object["warnings"] as? [String])?.isEmpty == true)
  }
}
