import BilevelCore
import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

/// The compiler's symbolic gradients (expression text → elaboration →
/// Differentiator → ReferenceEvaluator) against an independent scalar
/// reverse-mode tape (ScalarTape) on seeded random programs.
@Suite struct OracleTests {
  /// BILEVELC_ORACLE_PROGRAMS=N compares more programs (a longer search).
  static let programCount =
    ProcessInfo.processInfo.environment["BILEVELC_ORACLE_PROGRAMS"].flatMap { Int($0) } ?? 250
  /// Text that shows a function, reduction or operator is used.
  static let markers =
    RandomExpression.functions.filter { $0 != "-" }.map { $0 + "(" }
    + ["(-", "sum(", "mean(", "dot(", "^", " + ", " - ", " * ", " / "]

  @Test func symbolicGradientsMatchTheTape() throws {
    var compared = 0, rejected = 0, attempt = 0
    var worst = 0.0
    var seen: [String: Int] = [:]
    while compared < Self.programCount {
      attempt += 1
      let p = RandomProgram(seed: TestRandom.seed("oracle", attempt))
      guard let oracle = p.tapeGradient() else {
        rejected += 1
        continue
      }
      let text = p.expression.description
      // Alternate between the graph as elaborated and its simplified form.
      var h = try DerivativeHarness(
        statements: DerivativeHarness.dataStatements(p.bindings), expression: text,
        wrt: p.bindings.map(\.0), simplify: attempt % 2 == 0)
      let f = h.output
      let leaves = h.leaves.map(\.node)
      let grad = h.differentiate { $0.gradient(of: f, wrt: leaves) }
      let value = h.scalar(f, at: h.start)
      let gradient = h.leafShaped(grad, at: h.start)
      let same = Comparison("value", [value], [oracle.value], tolerance: 1e-12, floor: 0)
      // Relative to the larger of the gradient and the scale of the terms
      // that cancel in it (an exactly cancelling entry is 0 in one, ±ε in the other).
      let check = Comparison(
        "gradient", gradient, oracle.gradient, tolerance: 1e-10, scale: Dense.maxAbs(oracle.scale),
        floor: 0)
      #expect(same.passed, "\(text) at \(p.values.map(\.scalars)): \(same)")
      #expect(check.passed, "\(text) at \(p.values.map(\.scalars)): \(check)")
      worst = max(worst, check.relativeError)
      compared += 1
      for marker in Self.markers where text.contains(marker) { seen[marker, default: 0] += 1 }
    }
    print(
      "oracle: \(compared) random programs agree with the tape (\(rejected) drawn outside the compared region), "
        + "worst relative gradient error \(String(format: "%.2g", worst))")
    // Every kind of node occurs in a fair share of the programs.
    for marker in Self.markers {
      #expect(
        seen[marker, default: 0] >= 10, "only \(seen[marker, default: 0]) programs use \(marker)")
    }
  }
}
