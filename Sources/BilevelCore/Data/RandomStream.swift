import BilevelFrontEnd

/// The deterministic random source behind `rand(...)` and `randn(...)`
/// data. Every machine must produce the same bits for the same seed, so the
/// algorithm is fixed here exactly and uses no platform maths library:
///
/// 1. **Seeding (SplitMix64).** With a 64-bit counter `x = seed`, each output
///    is `x = x &+ 0x9E3779B97F4A7C15; z = x;`
///    `z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9;`
///    `z = (z ^ (z >> 27)) &* 0x94D049BB133111EB; return z ^ (z >> 31)`.
///    The first four outputs are the xoshiro state `s0, s1, s2, s3`.
/// 2. **Generator (xoshiro256\*\*).** `result = rotl(s1 &* 5, 7) &* 9;`
///    `t = s1 << 17; s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;`
///    `s3 = rotl(s3, 45)`. All arithmetic wraps modulo 2^64.
/// 3. **Uniform in [0, 1).** `Double(next >> 11) * 0x1.0p-53` (exact).
/// 4. **Normal (Marsaglia polar).** Draw `u = 2·uniform − 1`, then
///    `v = 2·uniform − 1` (both exact), `s = u·u + v·v`; retry while
///    `s >= 1 || s == 0`. With `f = sqrt((−2·ln s) / s)` return `u·f` and keep
///    `v·f` for the next normal draw (uniform draws do not clear it).
///    `sqrt` is IEEE-754 correctly rounded; `ln` is `RandomStream.log` below,
///    built only from IEEE `+ − × ÷` and bit manipulation, evaluated in
///    the written order with no fused multiply-add.
///
/// A tensor is filled in row-major order from one fresh stream per seed.
public struct RandomStream: Sendable {
  private var s0: UInt64
  private var s1: UInt64
  private var s2: UInt64
  private var s3: UInt64
  /// The second value of the last polar pair, handed out by the next `nextNormal`.
  private var cachedNormal: Double?

  public init(seed: UInt64) {
    var x = seed
    func splitMix() -> UInt64 {
      x &+= 0x9E37_79B9_7F4A_7C15
      var z = x
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    s0 = splitMix()
    s1 = splitMix()
    s2 = splitMix()
    s3 = splitMix()
    cachedNormal = nil
  }

  @inline(__always)
  private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
    (x << k) | (x >> (64 &- k))
  }

  /// The next raw 64-bit output of xoshiro256**.
  public mutating func nextUInt64() -> UInt64 {
    let result = Self.rotl(s1 &* 5, 7) &* 9
    let t = s1 << 17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = Self.rotl(s3, 45)
    return result
  }

  /// A uniform draw in [0, 1): the top 53 bits scaled exactly.
  public mutating func nextUniform() -> Double {
    Double(nextUInt64() >> 11) * 0x1.0p-53
  }

  /// A standard normal draw (Marsaglia polar method, pairs cached).
  public mutating func nextNormal() -> Double {
    if let cached = cachedNormal {
      cachedNormal = nil
      return cached
    }
    while true {
      let u = 2.0 * nextUniform() - 1.0
      let v = 2.0 * nextUniform() - 1.0
      let s = u * u + v * v
      if s >= 1.0 || s == 0.0 { continue }
      let f = ((-2.0 * Self.log(s)) / s).squareRoot()
      cachedNormal = v * f
      return u * f
    }
  }

  /// A tensor of uniform [0, 1) draws from a fresh stream, row-major.
  public static func uniform(shape: Shape, seed: UInt64) -> Tensor {
    var stream = RandomStream(seed: seed)
    var values = [Double]()
    values.reserveCapacity(shape.count)
    for _ in 0..<shape.count { values.append(stream.nextUniform()) }
    return Tensor(shape: shape, scalars: values)
  }

  /// A tensor of standard normal draws from a fresh stream, row-major.
  public static func normal(shape: Shape, seed: UInt64) -> Tensor {
    var stream = RandomStream(seed: seed)
    var values = [Double]()
    values.reserveCapacity(shape.count)
    for _ in 0..<shape.count { values.append(stream.nextNormal()) }
    return Tensor(shape: shape, scalars: values)
  }

  // MARK: Deterministic natural logarithm

  /// ln 2 split so that `e * ln2Hi` is exact for every binary exponent `e`
  /// (ln2Hi has only 32 significant bits); ln2Lo is the remainder.
  private static let ln2Hi = Double(bitPattern: 0x3FE6_2E42_FEE0_0000)
  private static let ln2Lo = Double(bitPattern: 0x3DEA_39EF_3579_3C76)

  /// Natural logarithm from IEEE `+ − × ÷` and bit manipulation only, so the
  /// result never depends on the platform libm (accurate to about one ulp).
  ///
  /// Write `x = m · 2^e` with `m` in [√½, √2) (subnormals are first scaled
  /// by 2^54). With `f = m − 1` (exact), `s = f / (2 + f)`, `z = s·s`,
  /// `hfsq = 0.5·f·f` and `R = z·(2/3 + z·(2/5 + … + z·(2/25)))`
  /// (the atanh series `ln m = 2·atanh(s)`, Horner, 12 terms),
  /// `ln x = e·ln2Hi + (f − (hfsq − (s·(hfsq + R) + e·ln2Lo)))`.
  public static func log(_ x: Double) -> Double {
    if x.isNaN || x < 0 { return .nan }
    if x == 0 { return -.infinity }
    if x == .infinity { return x }
    var bits = x.bitPattern
    var e = 0
    if bits >> 52 == 0 {  // subnormal: scale into the normal range
      bits = (x * 0x1.0p54).bitPattern
      e = -54
    }
    e += Int(bits >> 52) - 1023
    var mantissa = bits & 0x000F_FFFF_FFFF_FFFF
    // √2 has significand bits 0x6A09E667F3BCD; at or above it, halve m.
    if mantissa >= 0x6_A09E_667F_3BCD {
      mantissa |= 0x3FE0_0000_0000_0000  // m in [√½, 1)
      e += 1
    } else {
      mantissa |= 0x3FF0_0000_0000_0000  // m in [1, √2)
    }
    let m = Double(bitPattern: mantissa)
    let f = m - 1.0
    let s = f / (2.0 + f)
    let z = s * s
    // Horner from the innermost term. Each quotient is the correctly
    // rounded double whether or not the compiler folds it.
    var poly = 2.0 / 25.0
    poly = 2.0 / 23.0 + z * poly
    poly = 2.0 / 21.0 + z * poly
    poly = 2.0 / 19.0 + z * poly
    poly = 2.0 / 17.0 + z * poly
    poly = 2.0 / 15.0 + z * poly
    poly = 2.0 / 13.0 + z * poly
    poly = 2.0 / 11.0 + z * poly
    poly = 2.0 / 9.0 + z * poly
    poly = 2.0 / 7.0 + z * poly
    poly = 2.0 / 5.0 + z * poly
    poly = 2.0 / 3.0 + z * poly
    let r = z * poly
    let hfsq = 0.5 * f * f
    let dk = Double(e)
    return dk * ln2Hi + (f - (hfsq - (s * (hfsq + r) + dk * ln2Lo)))
  }
}
