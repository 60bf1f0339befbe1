import Foundation
import TestSupport
import Testing

/// Warnings before a result misleads, as a script reads them from `--json`.
@Suite struct ResultWarningTests {
  static let newtonCutShort = """
    # Regularised logistic regression whose Newton solve is cut short on purpose:
    # max_steps = 2 stops it with ‖∇θ L_in‖ far above tol, so the run says "not
    # converged" (never "solved") and warns that implicit(exact) then differentiates
    # a point that is not the inner solution.
    """ + "\n"
    + TestPrograms.logistic(innerSolver: "newton(tol: 1e-12, max_steps: 2)", outerSteps: 3)

  static let firstOrderBlind = """
    # A weight decay that reaches the outer loss only through the inner solution:
    # first_order holds that solution fixed, so its hypergradient in lam is
    # identically zero, and the compiler warns before the run (naming the methods
    # that see lam). Compare: bilevelc grad first_order_blind.blv --method unroll
    dim n = 30, d = 5
    data X = randn(n, d, seed: 1)
    data y = randn(n, seed: 2)
    outer lam: scalar = 0.1
    inner w: vector[d] = 0
    inner loss = mean((X @ w - y)^2) + lam * sum(w^2)
    outer loss = mean((X @ w - y)^2)
    solve inner with gd(lr: 0.05, steps: 50)
    hypergradient with first_order
    solve outer with gd(lr: 0.1, steps: 2)
    """

  /// The program written to a fresh directory, for the driver to run there.
  static func directory(_ name: String, _ text: String) throws -> String {
    let dir =
      NSTemporaryDirectory() + "bilevelc-\(ProcessInfo.processInfo.processIdentifier)-\(name)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try text.write(toFile: dir + "/\(name).blv", atomically: true, encoding: .utf8)
    return dir
  }

  @Test func newtonStoppedAboveItsToleranceIsNotConverged() throws {
    let json =
      NSTemporaryDirectory() + "bilevelc-\(ProcessInfo.processInfo.processIdentifier)-newton.json"
    defer { try? FileManager.default.removeItem(atPath: json) }
    let dir = try Self.directory("newton_not_converged", Self.newtonCutShort)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let run = DriverRunner.run(["--json", json, "newton_not_converged.blv"], in: dir)
    #expect(run.status == 0, "\(run.errors)")
    #expect(run.output.contains("not converged"))
    #expect(!run.output.contains("solved:"))
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json)))
        as? [String: Any])
    #expect(object["converged"] as? Bool == false)
    let warnings = try #require(object["warnings"] as? [String])
    #expect(
      warnings.contains { $0.hasPrefix("not converged: newton stopped at max_steps = 2") },
      "\(warnings)")
    #expect(
      warnings.contains { $0.hasPrefix("implicit(exact) differentiates the inner solution") },
      "\(warnings)")
  }

  @Test func aConvergedNewtonSaysSolvedWithoutWarnings() throws {
    let json =
      NSTemporaryDirectory() + "bilevelc-\(ProcessInfo.processInfo.processIdentifier)-decay.json"
    defer { try? FileManager.default.removeItem(atPath: json) }
    let run = DriverRunner.run(
      ["--json", json, "logistic_feature_decay.blv"], in: PackagePaths.samples)
    #expect(run.status == 0, "\(run.errors)")
    #expect(run.output.contains("solved:"))
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json)))
        as? [String: Any])
    #expect(object["converged"] as? Bool == true)
    #expect((object["warnings"] as? [String])?.isEmpty == true)
  }

  @Test func firstOrderBlindToAVariableWarnsInTheRunCheckAndGrad() throws {
    let dir = try Self.directory("first_order_blind", Self.firstOrderBlind)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    for command in [
      ["first_order_blind.blv"], ["check", "first_order_blind.blv"],
      ["grad", "first_order_blind.blv"],
    ] {
      let run = DriverRunner.run(command, in: dir)
      #expect(run.status == 0, "\(command): \(run.errors)")
      #expect(
        run.errors.contains(
          "first_order_blind.blv:8:7: warning: outer variable 'lam' reaches the outer loss only through the inner solution"
        ), "\(command): \(run.errors)")
    }
    let unrolled = DriverRunner.run(
      ["grad", "--method", "unroll", "first_order_blind.blv"], in: dir)
    #expect(!unrolled.errors.contains("warning"), "unroll sees lam: \(unrolled.errors)")
  }
}
