import Foundation
import TestSupport
import Testing

/// `--budget-mb` covers the data as well as the method: the run holds the
/// program's data and the copy its plans share, and says so in its header.
@Suite struct DataBudgetTests {
  /// Least squares on n × d seeded data with a two-step unroll.
  static func leastSquares(n: Int, d: Int) -> String {
    """
    dim n = \(n), d = \(d)
    data X = randn(n, d, seed: 1)
    data y = randn(n, seed: 2)
    outer lam: scalar = 0
    inner w: vector[d] = 0
    inner loss = mean((X @ w - y)^2) + exp(lam) * sum(w^2)
    outer loss = mean((X @ w - y)^2)
    solve inner with gd(lr: 0.01, steps: 2)
    hypergradient with unroll(reverse)
    solve outer with gd(lr: 0.1, steps: 1)
    """
  }
  /// 200 × 100 doubles of data (156 KB, held twice), a tape of a few KB.
  static let program = leastSquares(n: 200, d: 100)
  /// d < 2n: planning hoists XᵀX (500 × 500, 1.9 MB) beside 2 × 1.1 MB of data.
  static let hoisting = leastSquares(n: 300, d: 500)

  static func run(_ arguments: [String], program: String = program) throws -> DriverRunner.Run {
    let directory = NSTemporaryDirectory() + "bilevelc-data-budget-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try program.write(toFile: directory + "/budget.blv", atomically: true, encoding: .utf8)
    return DriverRunner.run(arguments + ["budget.blv"], in: directory)
  }

  @Test func dataOverTheBudgetStopsTheRunBeforeItStarts() throws {
    // The tape fits in 0.2 MB; the data (2 × 158 KB) do not.
    let run = try Self.run(["--budget-mb", "0.2"])
    #expect(run.status == 1)
    #expect(
      run.errors.contains("budget.blv:9:20: error: the data take 316 KB"), "\(run.errors)")
  }

  @Test func theHeaderCountsTheDataAndTheRunFitsALargerBudget() throws {
    let run = try Self.run(["--budget-mb", "1"])
    #expect(run.status == 0, "\(run.errors)")
    #expect(
      run.output.contains("; data 2 × 158 KB; computed once from data 78.9 KB\n"), "\(run.output)")
  }

  @Test func theHoistedProductCountsAgainstTheBudgetBeforeTheRunStarts() throws {
    // The data alone (2.3 MB) fit in 3 MB; with XᵀX (1.9 MB) they do not.
    let refused = try Self.run(["--budget-mb", "3"], program: Self.hoisting)
    #expect(refused.status == 1)
    #expect(
      refused.errors.contains(
        "budget.blv:9:20: error: the data take 2.3 MB (the program's and the plans' shared copy) and the values computed once from them 1.9 MB, over the 3 MB budget"
      ), "\(refused.errors)")
    let explained = try Self.run(["explain"], program: Self.hoisting)
    #expect(
      explained.output.contains(
        "held whatever the method: data 2 × 1.1 MB; values computed once from data alone 1.9 MB ("
      ), "\(explained.output)")
  }
}
