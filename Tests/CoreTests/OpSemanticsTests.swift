import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

@testable import BilevelCore

/// The reference kernels against independent, hand-written formulas.
@Suite struct OpSemanticsTests {
  static let v = Tensor(shape: .vector(5), scalars: [-2.5, -0.3, 0, 0.7, 3.1])
  static let positive = Tensor(shape: .vector(4), scalars: [0.01, 0.5, 2, 40])

  static func value(_ text: String, _ data: [(String, Tensor)] = []) throws -> Tensor {
    let (built, diagnostics) = TestPrograms.expression(text, data: data)
    guard let built else { throw Failure(DiagnosticRenderer.render(diagnostics)) }
    return built.value
  }

  struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
  }

  static func close(_ a: [Double], _ b: [Double], tolerance: Double = 1e-14) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
  }

  static let unaryOracles: [UnaryFunction: @Sendable (Double) -> Double] = [
    .negate: { -$0 }, .exp: { Foundation.exp($0) }, .log: { Foundation.log($0) },
    .sqrt: { $0.squareRoot() },
    .abs: { Swift.abs($0) }, .tanh: { Foundation.tanh($0) },
    .sigmoid: { 1 / (1 + Foundation.exp(-$0)) },
    .relu: { Swift.max($0, 0) }, .softplus: { Foundation.log(1 + Foundation.exp($0)) },
    .sin: { Foundation.sin($0) }, .cos: { Foundation.cos($0) },
    .sign: { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 }, .step: { $0 > 0 ? 1 : 0 },
  ]

  @Test(arguments: UnaryFunction.allCases)
  func unary(_ f: UnaryFunction) throws {
    let oracle = try #require(Self.unaryOracles[f])
    let input = f == .log || f == .sqrt ? Self.positive : Self.v
    let text = f == .negate ? "-x" : "\(f.name)(x)"
    let got = try Self.value(text, [("x", input)])
    #expect(Self.close(got.scalars, input.scalars.map(oracle)), "\(f): \(got.scalars)")
  }

  @Test func stableFormsDoNotOverflow() throws {
    let big = Tensor(shape: .vector(3), scalars: [-800, 0, 800])
    #expect(try Self.value("sigmoid(x)", [("x", big)]).scalars == [0, 0.5, 1])
    #expect(try Self.value("softplus(x)", [("x", big)]).scalars == [0, Foundation.log(2), 800])
    #expect(try Self.value("logsumexp(x)", [("x", big)]).scalar == 800)
    let s = try Self.value("softmax(x)", [("x", big)])
    #expect(s.scalars.allSatisfy(\.isFinite) && abs(s.scalars.reduce(0, +) - 1) < 1e-15)
  }

  @Test(arguments: BinaryFunction.allCases)
  func binaryBroadcasting(_ f: BinaryFunction) throws {
    let A = Tensor(shape: .matrix(2, 3), scalars: [1, 2, 3, 4, 5, 6])
    let row = Tensor(shape: .vector(3), scalars: [0.5, 1.5, 2])
    let column = Tensor(shape: .vector(2), scalars: [3, -1])
    let data = [("A", A), ("r", row), ("c", column)]
    let rowResult = try Self.value(f.written("A", "r"), data)
    let columnResult = try Self.value(f.written("A", "col(c)"), data)
    let scalarResult = try Self.value(f.written("2", "A"), data)
    for i in 0..<2 {
      for j in 0..<3 {
        #expect(rowResult[i, j] == f.apply(A[i, j], row.scalars[j]))
        #expect(columnResult[i, j] == f.apply(A[i, j], column.scalars[i]))
        #expect(scalarResult[i, j] == f.apply(2, A[i, j]))
      }
    }
  }

  @Test func matmulInAllItsForms() throws {
    let A = TestPrograms.random(.matrix(3, 4), seed: 11)
    let B = TestPrograms.random(.matrix(4, 2), seed: 12)
    let u = TestPrograms.random(.vector(4), seed: 13)
    let w = TestPrograms.random(.vector(3), seed: 14)
    let data = [("A", A), ("B", B), ("u", u), ("w", w)]
    func naive(_ i: Int, _ j: Int) -> Double { (0..<4).reduce(0) { $0 + A[i, $1] * B[$1, j] } }
    let AB = try Self.value("A @ B", data)
    #expect(AB.shape == .matrix(3, 2))
    for i in 0..<3 { for j in 0..<2 { #expect(abs(AB[i, j] - naive(i, j)) < 1e-14) } }
    // Transposed operands give the same numbers as explicit transposes.
    #expect(Self.close(try Self.value("(B' @ A')'", data).scalars, AB.scalars))
    let Au = try Self.value("A @ u", data)
    #expect(
      Self.close(
        Au.scalars, (0..<3).map { i in (0..<4).reduce(0) { $0 + A[i, $1] * u.scalars[$1] } }))
    let wA = try Self.value("w @ A", data)
    #expect(
      Self.close(
        wA.scalars, (0..<4).map { j in (0..<3).reduce(0) { $0 + w.scalars[$1] * A[$1, j] } }))
    #expect(
      abs(try Self.value("dot(u, u)", data).scalar - u.scalars.reduce(0) { $0 + $1 * $1 }) < 1e-14)
    #expect(try Self.value("outer(w, u)", data).shape == .matrix(3, 4))
  }

  @Test func solveSatisfiesTheSystem() throws {
    var A = TestPrograms.random(.matrix(4, 4), seed: 21)
    for i in 0..<4 { A[i, i] += 4 }
    let b = TestPrograms.random(.vector(4), seed: 22)
    let x = try Self.value("solve(A, b)", [("A", A), ("b", b)])
    for i in 0..<4 {
      let r = (0..<4).reduce(0) { $0 + A[i, $1] * x.scalars[$1] } - b.scalars[i]
      #expect(abs(r) < 1e-12)
    }
  }

  @Test func reductionsAlongAxes() throws {
    let A = Tensor(shape: .matrix(2, 3), scalars: [1, 2, 3, 4, 5, 6])
    #expect(try Self.value("sum(A)", [("A", A)]).scalar == 21)
    #expect(try Self.value("sum(A, axis: rows)", [("A", A)]).scalars == [5, 7, 9])
    #expect(try Self.value("mean(A, axis: columns)", [("A", A)]).scalars == [2, 5])
    #expect(try Self.value("max(A, axis: rows)", [("A", A)]).scalars == [4, 5, 6])
    #expect(abs(try Self.value("norm(A)", [("A", A)]).scalar - 91.0.squareRoot()) < 1e-15)
    let lse = try Self.value("logsumexp(A, axis: columns)", [("A", A)])
    #expect(
      Self.close(
        lse.scalars,
        [
          Foundation.log(Foundation.exp(1) + Foundation.exp(2) + Foundation.exp(3)),
          Foundation.log(Foundation.exp(4) + Foundation.exp(5) + Foundation.exp(6)),
        ]))
  }

  @Test func crossEntropyWithClassNumbersAndProbabilities() throws {
    let Z = Tensor(shape: .matrix(2, 3), scalars: [1, 2, 3, 0, 0, 5])
    let labels = Tensor(shape: .vector(2), scalars: [3, 1])
    let losses = try Self.value("cross_entropy(Z, y)", [("Z", Z), ("y", labels)])
    func lse(_ r: [Double]) -> Double { Foundation.log(r.reduce(0) { $0 + Foundation.exp($1) }) }
    #expect(Self.close(losses.scalars, [lse([1, 2, 3]) - 3, lse([0, 0, 5]) - 0]))
    let P = Tensor(shape: .matrix(2, 3), scalars: [0, 0, 1, 1, 0, 0])
    #expect(
      Self.close(
        try Self.value("cross_entropy(Z, P)", [("Z", Z), ("P", P)]).scalars, losses.scalars))
  }

  @Test func indexingIsOneBasedAndSlicesInclusive() throws {
    let A = Tensor(shape: .matrix(3, 3), scalars: [1, 2, 3, 4, 5, 6, 7, 8, 9])
    let x = Tensor(shape: .vector(4), scalars: [10, 20, 30, 40])
    #expect(try Self.value("x[1]", [("x", x)]).scalar == 10)
    #expect(try Self.value("x[2:3]", [("x", x)]).scalars == [20, 30])
    #expect(try Self.value("A[2, :]", [("A", A)]).scalars == [4, 5, 6])
    #expect(try Self.value("A[:, 3]", [("A", A)]).scalars == [3, 6, 9])
    #expect(try Self.value("A[2, 3]", [("A", A)]).scalar == 6)
    #expect(try Self.value("A[2:3, 1:2]", [("A", A)]).scalars == [4, 5, 7, 8])
  }

  @Test func structuralOps() throws {
    let x = Tensor(shape: .vector(2), scalars: [1, 2])
    let A = Tensor(shape: .matrix(2, 2), scalars: [1, 2, 3, 4])
    let data = [("x", x), ("A", A)]
    #expect(try Self.value("concat(x, x)", data).scalars == [1, 2, 1, 2])
    #expect(
      try Self.value("concat(A, A, axis: columns)", data).scalars == [1, 2, 1, 2, 3, 4, 3, 4])
    #expect(try Self.value("concat(A, A)", data).shape == .matrix(4, 2))
    #expect(try Self.value("reshape(A, 4)", data).scalars == [1, 2, 3, 4])
    #expect(try Self.value("diag(x)", data).scalars == [1, 0, 0, 2])
    #expect(try Self.value("diag(A)", data).scalars == [1, 4])
    #expect(try Self.value("A'", data).scalars == [1, 3, 2, 4])
    #expect(try Self.value("eye(2) + zeros(2, 2) + ones(2, 2)", data).scalars == [2, 1, 1, 2])
    #expect(try Self.value("[[1, 2], [3, x[1]]]", data).scalars == [1, 2, 3, 1])
  }
}
