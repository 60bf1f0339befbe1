import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

@testable import BilevelCore

/// Rules that used to give a different answer without an error: broadcasting
/// that depended on the data's size, axes numbered unlike indices, and labels
/// people save 0-based.
@Suite struct LanguageRuleTests {
  static func value(_ text: String, _ data: [(String, Tensor)] = []) throws -> Tensor {
    let (built, diagnostics) = TestPrograms.expression(text, data: data)
    guard let built else { throw OpSemanticsTests.Failure(DiagnosticRenderer.render(diagnostics)) }
    return built.value
  }

  static func error(_ text: String, _ data: [(String, Tensor)] = []) -> String {
    let (built, diagnostics) = TestPrograms.expression(text, data: data)
    return built == nil ? DiagnosticRenderer.render(diagnostics) : ""
  }

  static let square = Tensor(shape: .matrix(2, 2), scalars: [1, 2, 3, 4])
  static let wide = Tensor(shape: .matrix(2, 3), scalars: [1, 2, 3, 4, 5, 6])
  static let v2 = Tensor(shape: .vector(2), scalars: [10, 100])

  @Test func aVectorAlwaysScalesColumns() throws {
    // Column j times v[j], for a square matrix as for any other.
    #expect(
      try Self.value("X * v", [("X", Self.square), ("v", Self.v2)]).scalars == [10, 200, 30, 400])
    #expect(
      try Self.value("v * X", [("X", Self.square), ("v", Self.v2)]).scalars == [10, 200, 30, 400])
    #expect(
      try Self.value("X * row(v)", [("X", Self.square), ("v", Self.v2)]).scalars == [
        10, 200, 30, 400,
      ])
  }

  @Test func colPairsAVectorWithRows() throws {
    #expect(
      try Self.value("X * col(v)", [("X", Self.square), ("v", Self.v2)]).scalars == [
        10, 20, 300, 400,
      ])
    #expect(
      try Self.value("X + col(v)", [("X", Self.wide), ("v", Self.v2)]).scalars == [
        11, 12, 13, 104, 105, 106,
      ])
  }

  @Test func aVectorMatchingOnlyTheRowsIsAnError() {
    // This used to scale rows: the meaning turned on whether the matrix was square.
    let message = Self.error("X * v", [("X", Self.wide), ("v", Self.v2)])
    #expect(
      message.contains("a vector[2] against a matrix[2, 3] goes with its columns"), "\(message)")
    #expect(message.contains("write col(v)"), "\(message)")
  }

  @Test func axesAreNamed() throws {
    #expect(try Self.value("sum(X, axis: rows)", [("X", Self.wide)]).scalars == [5, 7, 9])
    #expect(try Self.value("sum(X, axis: columns)", [("X", Self.wide)]).scalars == [6, 15])
    #expect(
      try Self.value("concat(X, X, axis: columns)", [("X", Self.square)]).shape == .matrix(2, 4))
    let old = Self.error("sum(X, axis: 1)", [("X", Self.wide)])
    #expect(
      old.contains("axes are named, not numbered: 'rows' or 'columns'; write 'axis: columns'"),
      "\(old)")
    #expect(
      Self.error("sum(X, axis: sideways)", [("X", Self.wide)]).contains(
        "axis must be 'rows' or 'columns'"))
  }

  @Test func zeroBasedClassLabels() throws {
    let Z = Tensor(shape: .matrix(3, 3), scalars: [0.2, -1, 0.5, 2, 0.1, -0.3, 0, 0, 1.5])
    let oneBased = try Self.value("cross_entropy(Z, [1, 3, 2])", [("Z", Z)])
    let zeroBased = try Self.value("cross_entropy(Z, [0, 2, 1], base: 0)", [("Z", Z)])
    #expect(oneBased.scalars == zeroBased.scalars)
    let zero = Self.error("cross_entropy(Z, [0, 2, 1])", [("Z", Z)])
    #expect(zero.contains("labels run from 1 to 3; for 0-based labels write 'base: 0'"), "\(zero)")
    #expect(
      Self.error("cross_entropy(Z, [0, 3, 1], base: 0)", [("Z", Z)]).contains(
        "labels run from 0 to 2"))
  }

  @Test func binaryCrossEntropyFromLogits() throws {
    let z = Tensor(shape: .vector(5), scalars: [-800, -2, 0, 1.5, 800])
    let y = Tensor(shape: .vector(5), scalars: [0, 1, 1, 0, 1])
    let got = try Self.value("binary_cross_entropy(z, y)", [("z", z), ("y", y)]).scalars
    // −y log σ(z) − (1 − y) log(1 − σ(z)), written directly where it does not overflow.
    for k in 1...3 {
      let s = 1 / (1 + Foundation.exp(-z.scalars[k]))
      let want = -y.scalars[k] * Foundation.log(s) - (1 - y.scalars[k]) * Foundation.log(1 - s)
      #expect(abs(got[k] - want) < 1e-14, "entry \(k): \(got[k]) vs \(want)")
    }
    // Confident and right: a loss of 0, not NaN or infinity.
    #expect(got[0] == 0 && got[4] == 0)
  }
}
