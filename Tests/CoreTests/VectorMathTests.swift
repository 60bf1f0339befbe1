import BilevelFrontEnd
import BilevelKernelsAVX512
import BilevelVectorMath
import Foundation
import TestSupport
import Testing

@testable import BilevelCore

/// The transcendentals (BilevelVectorMath) against libm over dense samples
/// of each domain and its edges, and the widths against each other: the
/// one-lane form the reference evaluator uses, 4 and 8 lanes, and the
/// AVX-512 path where the CPU has it must give the same bits.
@Suite struct VectorMathTests {
  typealias Function = VectorMath.Function

  /// Distance in ulps: the count of doubles between a and b (±0 are one
  /// point; NaN matches only NaN).
  static func ulps(_ a: Double, _ b: Double) -> UInt64 {
    if a.isNaN || b.isNaN { return a.isNaN && b.isNaN ? 0 : .max }
    func ordered(_ x: Double) -> Int64 {
      let bits = Int64(bitPattern: x.bitPattern)
      return bits < 0 ? Int64.min &- bits : bits
    }
    return ordered(a) >= ordered(b)
      ? UInt64(bitPattern: ordered(a) &- ordered(b)) : UInt64(bitPattern: ordered(b) &- ordered(a))
  }

  /// Edges every function meets: zeros, infinities, NaN, subnormals, the
  /// overflow and underflow thresholds of exp, the branch points.
  static let edges: [Double] = [
    0, -0.0, .infinity, -.infinity, .nan, -.nan, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
    .leastNormalMagnitude, -.leastNormalMagnitude, 0x1p-1023, .greatestFiniteMagnitude,
    -.greatestFiniteMagnitude, 709.782712893383973096, 709.782712893384, 709.79, 710, 711,
    -745.13321910194110842, -745.1332191019412, -745.2, -746, -708.39641853226408,
    -708.3964185322642, 1, -1, 2, -2, 0.5, -0.5, 22, -22, 21.999999999999996, 0x1p-53, -0x1p-53,
    0x1p-54, 0x1p-55, 0x1p-28, 0.34657359027997264, 1.0397207708399179, 0.54930614433405489,
    0.17328679513998632, 38.816242111356935, -38.816242111356935, 56, -56, 0.41421356237309503,
    -0.29289321881345254, -1 + 0x1p-53, -1 - 0x1p-52, 0x1p53, 0x1p54, 1e300, -1e300, 1e-300,
  ]

  /// `count` samples for f: uniform in its ranges, and values 2^e·m with e
  /// uniform over every binade in `binades` (both signs), subnormals included.
  static func samples(_ f: Function, count: Int) -> [Double] {
    let ranges: [(Double, Double)]
    let binades: ClosedRange<Int>
    switch f {
    case .exp:
      (ranges, binades) = ([(-746, 710), (-1, 1), (-0x1p-20, 0x1p-20), (700, 710)], -1074...10)
    case .log: (ranges, binades) = ([(0, 4), (0.5, 2), (0.7, 1.5)], -1074...1023)
    case .log1p:
      (ranges, binades) = ([(-1, 1), (-1, -0.99), (-0.3, 0.42), (0.4, 3)], -1074...1023)
    case .tanh: (ranges, binades) = ([(-23, 23), (-1.2, 1.2), (-0.6, 0.6), (-0.2, 0.2)], -1074...6)
    case .sigmoid, .softplus: (ranges, binades) = ([(-750, 750), (-40, 40), (-4, 4)], -1074...10)
    }
    var r = RandomStream(seed: UInt64(f.rawValue.utf8.reduce(7) { $0 &* 31 &+ UInt64($1) }))
    var xs = edges
    xs.reserveCapacity(count + edges.count)
    let perRange = count / (2 * ranges.count)
    for (lo, hi) in ranges {
      for _ in 0..<perRange { xs.append(lo + (hi - lo) * r.nextUniform()) }
    }
    while xs.count < count + edges.count {
      let e = binades.lowerBound + Int(r.nextUniform() * Double(binades.count))
      let m = 1 + r.nextUniform()
      let x = Double(sign: xs.count % 2 == 0 ? .plus : .minus, exponent: e, significand: m)
      xs.append(f == .log1p && x < -1 ? -x : x)
    }
    return xs
  }

  /// f on every sample with `width` lanes a step, starting `offset` in.
  static func run(_ f: Function, _ xs: [Double], width: Int, offset: Int = 0) -> [Double] {
    var out = [Double](repeating: 0, count: xs.count - offset)
    xs.withUnsafeBufferPointer { x in
      out.withUnsafeMutableBufferPointer { d in
        TranscendentalLoops.map(f, x.baseAddress! + offset, d.baseAddress!, d.count, width: width)
      }
    }
    return out
  }

  #if arch(x86_64)
    /// libm in 64-bit-mantissa precision, rounded to double: within a
    /// hair of the correctly rounded value.
    static func extended(_ f: Function, _ x: Double) -> Double {
      let v = Float80(x)
      switch f {
      case .exp: return Double(Foundation.exp(v))
      case .log: return Double(Foundation.log(v))
      case .log1p: return Double(Foundation.log1p(v))
      case .tanh: return Double(Foundation.tanh(v))
      case .sigmoid:
        if v >= 0 { return Double(1 / (1 + Foundation.exp(-v))) }
        let e = Foundation.exp(v)
        return Double(e / (1 + e))
      case .softplus:
        return Double(Swift.max(v, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(v))))
      }
    }
  #endif

  /// libm's double functions (sigmoid and softplus: their stable forms).
  static func libm(_ f: Function, _ x: Double) -> Double {
    switch f {
    case .exp: return Foundation.exp(x)
    case .log: return Foundation.log(x)
    case .log1p: return Foundation.log1p(x)
    case .tanh: return Foundation.tanh(x)
    case .sigmoid:
      if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
      let e = Foundation.exp(x)
      return e / (1 + e)
    case .softplus: return Swift.max(x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x)))
    }
  }

  /// The largest distance and where it is.
  static func worst(
    _ xs: [Double], _ ours: [Double], _ reference: (Double) -> Double
  ) -> (
    ulps: UInt64, at: Double
  ) {
    var worst: (ulps: UInt64, at: Double) = (0, 0)
    for (x, y) in zip(xs, ours) {
      let u = ulps(y, reference(x))
      if u > worst.ulps { worst = (u, x) }
    }
    return worst
  }

  /// Within one ulp of libm's extended-precision result over 2·10⁶ points
  /// each, and of libm's double result where libm's double is itself within
  /// half an ulp or so (exp, log, log1p). glibc's double tanh and the
  /// stable forms of sigmoid and softplus on libm's double exp are up to
  /// 2 ulps from the extended result themselves, so for those the extended
  /// one is the reference.
  @Test(arguments: Function.allCases)
  func withinOneULPOfLibm(_ f: Function) {
    let xs = Self.samples(f, count: 2_000_000)
    let ours = Self.run(f, xs, width: 8)
    #if arch(x86_64)
      let extended = Self.worst(xs, ours) { Self.extended(f, $0) }
      #expect(
        extended.ulps <= 1, "\(f): \(extended.ulps) ulps from libm (Float80) at \(extended.at)")
    #endif
    if [.exp, .log, .log1p].contains(f) {
      let double = Self.worst(xs, ours) { Self.libm(f, $0) }
      #expect(double.ulps <= 1, "\(f): \(double.ulps) ulps from libm at \(double.at)")
    }
  }

  /// The edges exactly as libm gives them: NaN for NaN, the infinities,
  /// the sign of zero, ±1 and 0 in tanh's and sigmoid's saturation.
  @Test(arguments: Function.allCases)
  func edgesMatchLibmExactly(_ f: Function) {
    let ours = Self.run(f, Self.edges, width: 8)
    for (x, y) in zip(Self.edges, ours) {
      let expected = Self.libm(f, x)
      let exact =
        !y.isFinite || !expected.isFinite || y == 0 || expected == 0 || Swift.abs(y) == 1
        || Swift.abs(expected) == 1
      guard exact else { continue }
      #expect(
        y.isNaN ? expected.isNaN : y.bitPattern == expected.bitPattern,
        "\(f)(\(x)) = \(y), libm \(expected)")
    }
  }

  /// One lane, 4 and 8 lanes, every start offset, and the AVX-512 loop
  /// where the CPU has it: the same bits; and the op table's scalar form
  /// (the reference evaluator's) is the same algorithm.
  @Test(arguments: Function.allCases)
  func everyWidthGivesTheSameBits(_ f: Function) {
    let xs = Self.samples(f, count: 200_003)
    let one = Self.run(f, xs, width: 1).map(\.bitPattern)
    #expect(Self.run(f, xs, width: 4).map(\.bitPattern) == one)
    for offset in 0..<8 {
      #expect(Self.run(f, xs, width: 8, offset: offset).map(\.bitPattern) == Array(one[offset...]))
    }
    if KernelISA.supported.contains(.avx512) {
      var wide = [Double](repeating: 0, count: xs.count)
      xs.withUnsafeBufferPointer { x in
        wide.withUnsafeMutableBufferPointer { d in
          Elementwise512.transcendental(f, x.baseAddress!, d.baseAddress!, d.count)
        }
      }
      #expect(wide.map(\.bitPattern) == one)
    }
    if let op = UnaryFunction.allCases.first(where: { $0.transcendental == f }) {
      #expect(xs.map { op.apply($0).bitPattern } == one)
    }
  }

  /// A fused plan (a tanh layer tanh(W ⊙ x + b), its derivative 1 − y², and
  /// softplus, sigmoid, exp and log of it) gives the reference evaluator's
  /// bits, entry by entry.
  @Test func fusedLayerMatchesTheReferenceBitForBit() {
    var g = Graph()
    let n = 45
    let w = g.make(.variable(0), shape: .matrix(n, n))
    let x = g.make(.variable(1), shape: .vector(n))
    let b = g.make(.variable(2), shape: .vector(n))
    // Broadcast products, not W·x: the reference sums a product in its own order.
    let pre = g.make(.binary(.add), [g.make(.binary(.multiply), [w, x]), b])
    let y = g.make(.unary(.tanh), [pre])
    let slope = g.make(
      .binary(.subtract), [g.constant(1), g.make(.binary(.power), [y, g.constant(2)])])
    let soft = g.make(.binary(.multiply), [slope, g.make(.unary(.softplus), [pre])])
    let squash = g.make(.unary(.sigmoid), [g.make(.unary(.exp), [pre])])
    let root = g.make(
      .binary(.add), [soft, g.make(.unary(.log), [g.make(.binary(.add), [squash, y])])])
    var p = Program(file: SourceFile(path: "<t>", text: ""))
    let range = SourceRange(file: p.file, start: 0, end: 0)
    p.variables = [Shape.matrix(n, n), .vector(n), .vector(n)].enumerated().map { k, s in
      Variable(
        name: "v\(k)", level: .inner, shape: s, perTask: false, initial: g.constant(0, shape: s),
        bounds: nil, range: range)
    }
    p.graph = g
    let values = [
      TestPrograms.random(.matrix(n, n), seed: 3), TestPrograms.random(.vector(n), seed: 4),
      TestPrograms.random(.vector(n), seed: 5),
    ]
    let leaves = p.leafValues(variable: { i, _ in values[i] })
    let got = PlanBuilder.build(p, roots: [root]).evaluate(leaves)
    let expected = ReferenceEvaluator.evaluate(
      p.graph, roots: [root], leaves: leaves, taskCount: 1, task: nil)
    #expect(got[0].scalars.map(\.bitPattern) == expected[0].scalars.map(\.bitPattern))
  }
}
