import BilevelCore
import Foundation

/// Dense vector arithmetic for derivative checks: every value is flattened
/// to [Double] so checks do not care about shapes.
public enum Dense {
  public static func dot(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "dot of \(a.count) and \(b.count) entries")
    var s = 0.0
    for i in a.indices { s += a[i] * b[i] }
    return s
  }

  /// Σ |a_i b_i|: the scale of rounding errors in ⟨a, b⟩.
  public static func absoluteDot(_ a: [Double], _ b: [Double]) -> Double {
    var s = 0.0
    for i in a.indices { s += abs(a[i] * b[i]) }
    return s
  }

  public static func maxAbs(_ a: [Double]) -> Double { a.reduce(0) { max($0, abs($1)) } }

  public static func axpy(_ a: Double, _ x: [Double], _ y: [Double]) -> [Double] {
    zip(x, y).map { a * $0 + $1 }
  }

  public static func unit(_ i: Int, _ n: Int) -> [Double] {
    var e = [Double](repeating: 0, count: n)
    e[i] = 1
    return e
  }

  /// Columns (each of length rows) → the row-major matrix.
  public static func fromColumns(_ columns: [[Double]]) -> [[Double]] {
    guard let rows = columns.first?.count else { return [] }
    return (0..<rows).map { i in columns.map { $0[i] } }
  }

  public static func transpose(_ m: [[Double]]) -> [[Double]] {
    guard let n = m.first?.count else { return [] }
    return (0..<n).map { j in m.map { $0[j] } }
  }

  public static func multiply(_ m: [[Double]], _ v: [Double]) -> [Double] { m.map { dot($0, v) } }
}

/// One derivative check: a computed value against a reference, both flat.
/// Passes when ‖computed − reference‖∞ ≤ tolerance · max(‖computed‖∞,
/// ‖reference‖∞, scale) + floor; `scale` is an extra magnitude (for inner
/// products, the sum of |terms|), `floor` an absolute noise level that only
/// matters when the true value is 0.
public struct Comparison: CustomStringConvertible, Sendable {
  public let name: String
  public let computed: [Double]
  public let reference: [Double]
  public let tolerance: Double
  public let scale: Double
  public let floor: Double

  public init(
    _ name: String, _ computed: [Double], _ reference: [Double], tolerance: Double,
    scale: Double = 0, floor: Double = 1e-13
  ) {
    self.name = name
    self.computed = computed
    self.reference = reference
    self.tolerance = tolerance
    self.scale = scale
    self.floor = floor
  }

  public var difference: Double {
    guard computed.count == reference.count else { return .infinity }
    return zip(computed, reference).reduce(0) { max($0, abs($1.0 - $1.1)) }
  }

  public var magnitude: Double { max(Dense.maxAbs(computed), Dense.maxAbs(reference), scale) }

  /// The check's name without leaf names or sizes, for summaries.
  public var kind: String {
    var k = Substring(name)
    for marker in [" wrt", " ∂", " ("] { if let r = k.range(of: marker) { k = k[..<r.lowerBound] } }
    return String(k)
  }

  /// How close to failing: the error over the error allowed (above 1 fails).
  public var usage: Double {
    let allowed = tolerance * magnitude + floor
    return allowed > 0 ? difference / allowed : (difference == 0 ? 0 : .infinity)
  }

  /// The error relative to the magnitude (what the tolerance bounds).
  public var relativeError: Double { magnitude == 0 ? difference : difference / magnitude }

  public var passed: Bool {
    let all = computed + reference
    guard all.allSatisfy(\.isFinite), computed.count == reference.count else { return false }
    return difference <= tolerance * magnitude + floor
  }

  public var description: String {
    func show(_ v: [Double]) -> String {
      v.count > 12
        ? "\(v.prefix(12).map { String(format: "%.10g", $0) })…"
        : "\(v.map { String(format: "%.10g", $0) })"
    }
    var worst = ""
    if computed.count == reference.count,
      let i = computed.indices.max(by: {
        abs(computed[$0] - reference[$0]) < abs(computed[$1] - reference[$1])
      })
    {
      worst =
        "\n  worst entry \(i): \(String(format: "%.17g", computed[i])) against \(String(format: "%.17g", reference[i]))"
    }
    return
      "\(name): relative error \(String(format: "%.3g", relativeError)) > \(tolerance)\n  computed  \(show(computed))\n  reference \(show(reference))"
      + worst
  }
}

/// Central differences in Float64.
public enum FiniteDifferences {
  /// The step for a coordinate of size |x|: 1e-5 · max(1, |x|) balances the
  /// O(h²) truncation error against the O(ε/h) rounding error.
  public static func step(_ x: Double, relative: Double = 1e-5) -> Double {
    relative * max(1, abs(x))
  }

  /// ∂f/∂x_i by central differences, for each i in `indices` (all by
  /// default). With `extrapolated`, Richardson's (4 D(h/2) − D(h)) / 3,
  /// whose error is O(h⁴), for functions with large higher derivatives.
  public static func gradient(
    _ f: ([Double]) -> Double, at x: [Double], indices: [Int]? = nil,
    extrapolated: Bool = false
  ) -> [Double] {
    (indices ?? Array(x.indices)).map { i in
      func central(_ h: Double) -> Double {
        var plus = x, minus = x
        plus[i] += h
        minus[i] -= h
        // The step actually taken, as x ± h rounds.
        return (f(plus) - f(minus)) / (plus[i] - minus[i])
      }
      let h = step(x[i])
      return extrapolated ? (4 * central(h / 2) - central(h)) / 3 : central(h)
    }
  }

  /// (F(x + h v) − F(x − h v)) / 2h, with h scaled so the largest
  /// coordinate moves by 1e-5 · max(1, ‖x‖∞); optionally extrapolated.
  public static func directional(
    _ f: ([Double]) -> [Double], at x: [Double], along v: [Double],
    extrapolated: Bool = false
  ) -> [Double] {
    let size = Dense.maxAbs(v)
    guard size > 0 else { return f(x).map { _ in 0 } }
    func central(_ h: Double) -> [Double] {
      let plus = f(Dense.axpy(h, v, x))
      let minus = f(Dense.axpy(-h, v, x))
      return zip(plus, minus).map { ($0 - $1) / (2 * h) }
    }
    let h = step(Dense.maxAbs(x)) / size
    guard extrapolated else { return central(h) }
    return zip(central(h / 2), central(h)).map { (4 * $0 - $1) / 3 }
  }
}

/// A seeded stream of test numbers (SplitMix64 → uniform → normal), kept
/// independent of the compiler's generator so test points do not move when
/// it changes.
public struct TestRandom {
  var state: UInt64

  public init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 0x1234_5678 }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in [0, 1).
  public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

  public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * uniform() }

  public mutating func normal() -> Double {
    let u = max(uniform(), 1e-300)
    return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * Double.pi * uniform())
  }

  public mutating func integer(_ range: ClosedRange<Int>) -> Int {
    range.lowerBound + Int(next() % UInt64(range.count))
  }

  public mutating func chance(_ p: Double) -> Bool { uniform() < p }

  public mutating func pick<T>(_ items: [T]) -> T { items[integer(0...(items.count - 1))] }

  public mutating func normals(_ n: Int) -> [Double] { (0..<n).map { _ in normal() } }

  /// A stable seed from a name (FNV-1a), so each case draws its own points.
  public static func seed(_ name: String, _ salt: Int = 0) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in name.utf8 {
      h ^= UInt64(b)
      h = h &* 0x100_0000_01b3
    }
    return h ^ UInt64(salt) &* 0x9E37_79B9
  }
}

extension Tensor {
  /// Plan against reference evaluator: equal shapes, entries within 1e-10
  /// relative (or both NaN).
  public static func closeForPlanTests(_ a: Tensor, _ b: Tensor) -> Bool {
    a.shape == b.shape
      && zip(a.scalars, b.scalars).allSatisfy { x, y in
        x == y || abs(x - y) <= 1e-10 * max(1, abs(x), abs(y)) || (x.isNaN && y.isNaN)
      }
  }
}
