import BilevelCore
import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

@testable import BilevelSolvers

/// `check` judges a method against central differences no tighter than they
/// can resolve (their rounding, ε·|F|/h, against the derivative's size), so
/// a right hypergradient of a map that is huge against its change is not
/// failed, while a wrong one on an ordinary map still is.
@Suite struct CheckResolutionTests {
  static func program(outer: String, penalty: String = "exp(loglam)") -> String {
    """
    dim n = 30, d = 5
    data X = randn(n, d, seed: 1)
    data y = randn(n, seed: 2)
    outer loglam: scalar = 0
    inner w: vector[d] = 0
    inner loss = mean((X @ w - y)^2) + \(penalty) * sum(w^2)
    outer loss = \(outer)
    solve inner with gd(lr: 0.05, steps: 50)
    hypergradient with unroll
    solve outer with gd(lr: 0.1, steps: 2)
    """
  }

  static func check(_ text: String) throws -> DriverRunner.Run {
    let dir = NSTemporaryDirectory() + "bilevelc-resolution-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try text.write(toFile: dir + "/r.blv", atomically: true, encoding: .utf8)
    return DriverRunner.run(["check", "r.blv"], in: dir)
  }

  /// A loss of 1e10 whose change over h = 1e-3 is below its rounding, and a
  /// hypergradient of about 1e-7 on a loss of about 1: both right, both pass.
  @Test(arguments: [
    ("1e10 + mean((X @ w - y)^2)", "exp(loglam)"),
    ("1 + mean((X @ w - y)^2)", "1e-7 * exp(loglam)"),
  ])
  func aRightHypergradientBelowWhatDifferencesResolvePasses(
    _ outer: String, _ penalty: String
  )
    throws
  {
    let run = try Self.check(Self.program(outer: outer, penalty: penalty))
    #expect(run.status == 0, "\(run.output)")
    #expect(!run.output.contains("FAIL"), "\(run.output)")
    // The table says the tolerance was widened, and why.
    #expect(
      run.output.contains("each tolerance against them is widened")
        && run.output.contains("rounding of central differences")
        || run.output.contains("note: central differences resolve the program's method only to"),
      "\(run.output)")
    #expect(run.errors.contains("check: unroll(reverse) is within tolerance"), "\(run.errors)")
  }

  @Test func anOrdinaryProgramKeepsTheFullTolerance() throws {
    let run = try Self.check(Self.program(outer: "mean((X @ w - y)^2)"))
    #expect(run.status == 0, "\(run.output)")
    #expect(!run.output.contains("note: central differences resolve"), "\(run.output)")
  }

  /// The resolution only widens the tolerance to what differences resolve:
  /// an error far above it still fails, and one below it does not.
  @Test func aWrongHypergradientStillFails() throws {
    let problem = try SolverFixtures.problem(Self.program(outer: "mean((X @ w - y)^2)"))
    let check = HypergradientCheck(
      problem: problem, programMethod: .unrollReverse(checkpoints: nil))
    func judged(error: Double, resolution: Double) -> String? {
      var row = CheckRow(
        method: .unrollReverse(checkpoints: nil), isProgramMethod: true, map: .unrolled,
        mapDescription: "unrolled")
      row.differencesError = error
      row.differencesResolution = resolution
      row.reference = .isReference
      check.judge(&row, .unrolledReference)
      return row.failure
    }
    #expect(
      judged(error: 0.5, resolution: 2e-11)?.contains("differs from central differences") == true)
    #expect(judged(error: 0.5, resolution: 1e-3) != nil)
    #expect(judged(error: 1e-4, resolution: 1e-3) == nil)
    #expect(judged(error: 1e-7, resolution: 0) == nil)
    // And on the real run of an ordinary program the figure is far below the tolerance.
    let report = check.run()
    let mine = try #require(report.rows.first { $0.isProgramMethod })
    let resolution = try #require(mine.differencesResolution)
    #expect(resolution < 1e-9, "\(resolution)")
  }
}
