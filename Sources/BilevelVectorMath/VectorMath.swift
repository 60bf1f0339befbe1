/// exp, log, log1p, tanh, sigmoid and softplus in our own range reduction
/// and polynomials (exp's and log's are fdlibm's, as in musl), written once
/// over `MathLanes` so a `Double`, a SIMD4 and a SIMD8 run the same IEEE
/// operations per lane: results are the same bits on every machine and
/// every vector width. Branches are lane selects: every lane computes every
/// case and keeps its own. Fused multiply-adds are IEEE operations too (the
/// portable build calls libm's correctly rounded `fma`). Each is within one
/// ulp of the correctly rounded result (VectorMathTests measure it).
public enum VectorMath {
  // Constants of fdlibm's e_exp.c, e_log.c and s_log1p.c.
  @usableFromInline static let ln2Hi = 6.93147180369123816490e-01
  @usableFromInline static let ln2Lo = 1.90821492927058770002e-10
  @usableFromInline static let invLn2 = 1.44269504088896338700e+00
  @usableFromInline static let signBit: UInt64 = 1 << 63

  @inlinable @inline(__always)
  static func c<V: MathLanes>(_ v: Double) -> V { V(lanes: v) }

  @inlinable @inline(__always)
  static func magnitude<V: MathLanes>(_ x: V) -> V { x.andingBits(~signBit) }

  /// 2^k for integer-valued k in −1022…1023, built in the exponent field.
  @inlinable @inline(__always)
  static func power2<V: MathLanes>(_ k: V) -> V {
    (k + c(0x1.8p52)).addingToBits(1023).shiftingBitsLeft(52)
  }

  /// eˣ: x = k·ln2 + r with |r| ≤ ln2/2, eʳ from fdlibm's rational form,
  /// scaled by 2^k in two halves so subnormal results round once.
  @inlinable @inline(__always)
  public static func exp<V: MathLanes>(_ x: V) -> V {
    // Clamped so 2^k stays in range; the clamps still overflow to ∞ and underflow to 0.
    var a = V.select(V.less(c(710), x), c(710), x)
    a = V.select(V.less(a, c(-746)), c(-746), a)
    let k = (a * c(invLn2)).rounded(.toNearestOrEven)
    let hi = a - k * c(ln2Hi)
    let lo = k * c(ln2Lo)
    let r = hi - lo
    let t = r * r
    let p =
      c(1.66666666666666019037e-01)
      + t
      * (c(-2.77777777770155933842e-03)
        + t
        * (c(6.61375632143793436117e-05)
          + t * (c(-1.65339022054652515390e-06) + t * c(4.13813679705723846039e-08))))
    let q = r - t * p
    let y = c(1) - ((lo - (r * q) / (c(2) - q)) - hi)
    let k1 = (k * c(0.5)).rounded(.down)
    return (y * power2(k1)) * power2(k - k1)
  }

  /// ln(1 + f) + k·ln2 + c for f = m − 1, m in [√2/2, √2): fdlibm's kernel.
  @inlinable @inline(__always)
  static func logKernel<V: MathLanes>(_ f: V, _ k: V, _ correction: V) -> V {
    let hfsq = c(0.5) * f * f
    let s = f / (c(2) + f)
    let z = s * s
    let w = z * z
    let t1 =
      w
      * (c(3.999999999940941908e-01)
        + w * (c(2.222219843214978396e-01) + w * c(1.531383769920937332e-01)))
    let t2 =
      z
      * (c(6.666666666666735130e-01)
        + w
        * (c(2.857142874366239149e-01)
          + w * (c(1.818357216161805012e-01) + w * c(1.479819860511658591e-01))))
    let r = t2 + t1
    return s * (hfsq + r) + (k * c(ln2Lo) + correction) - hfsq + f + k * c(ln2Hi)
  }

  /// (k, m) with x = 2^k·m, m in [√2/2, √2), for positive normal x (musl's
  /// shift of the exponent boundary to √2/2).
  @inlinable @inline(__always)
  static func split<V: MathLanes>(_ x: V) -> (k: V, m: V) {
    let shifted = x.addingToBits(0x3ff0_0000_0000_0000 - 0x3fe6_a09e_0000_0000)
    // The biased exponent as a double: 2⁵² + e, exactly.
    let e = shifted.shiftingBitsRight(52).oringBits(0x4330_0000_0000_0000) - c(0x1p52)
    let m = shifted.andingBits(0x000f_ffff_ffff_ffff).addingToBits(0x3fe6_a09e_0000_0000)
    return (e - c(1023), m)
  }

  /// ln x; NaN below 0, −∞ at ±0.
  @inlinable @inline(__always)
  public static func log<V: MathLanes>(_ x: V) -> V {
    // Subnormals are scaled into the normal range first.
    let subnormal = V.less(x, c(0x1p-1022))
    let (k, m) = split(V.select(subnormal, x * c(0x1p54), x))
    var y = logKernel(m - c(1), k - V.select(subnormal, c(54), c(0)), c(0))
    y = V.select(V.equal(x, c(.infinity)), x, y)
    y = V.select(V.equal(x, c(0)), c(-.infinity), y)
    return V.select(V.less(x, c(0)), c(.nan), nanPassing(x, y))
  }

  /// x itself where x is NaN, else y.
  @inlinable @inline(__always)
  static func nanPassing<V: MathLanes>(_ x: V, _ y: V) -> V {
    V.select(V.equal(x, x), y, x)
  }

  /// ln(1 + x), accurate near 0: u = 1 + x is split as in `log`, and the
  /// rounding error of u enters as the correction (x − (u − 1))/u; near 0
  /// (where k would be 0) x itself is f (musl's log1p.c).
  @inlinable @inline(__always)
  public static func log1p<V: MathLanes>(_ x: V) -> V { log1p(x, low: c(0)) }

  /// ln(1 + x + low) for a small `low` carried beside x (exp's error in softplus).
  @inlinable @inline(__always)
  static func log1p<V: MathLanes>(_ x: V, low: V) -> V {
    let u = c(1) + x
    let (ku, m) = split(u)
    // The exact rounding error of 1 + x (two-sum); unused once u ≥ 2⁵³.
    let b = u - c(1)
    let error = ((c(1) - (u - b)) + (x - b)) + low
    let near = V.both(V.less(x, c(0x1.a827_ap-2)), V.less(c(-0x1.2bec_5p-2), x))
    let f = V.select(near, x, m - c(1))
    let k = V.select(near, c(0), ku)
    let correction = V.select(
      near, low / u, V.select(V.less(c(0x1p53), u), c(0), error / u))
    var y = logKernel(f, k, correction)
    y = V.select(V.less(magnitude(x), c(0x1p-53)), x, y)
    y = V.select(V.equal(x, c(.infinity)), x, y)
    y = V.select(V.equal(x, c(-1)), c(-.infinity), y)
    return V.select(V.less(x, c(-1)), c(.nan), nanPassing(x, y))
  }

  /// eˣ for x ≤ 0 as hi + lo, the pair within about 0.2 ulp: x = k·ln2 + r,
  /// eʳ = 1 + expm1(r) with fdlibm's expm1 kernel (s_expm1.c) and the
  /// rounding of 1 + expm1(r) kept in lo.
  @inlinable @inline(__always)
  static func expSplit<V: MathLanes>(_ x: V) -> (hi: V, lo: V) {
    let a = V.select(V.less(x, c(-746)), c(-746), x)
    let k = (a * c(invLn2)).rounded(.toNearestOrEven)
    let hi = a - k * c(ln2Hi)
    let lo = k * c(ln2Lo)
    let r = hi - lo
    let reduction = (hi - r) - lo
    let hfx = c(0.5) * r
    let hxs = r * hfx
    var q: V = c(-2.01099218183624371326e-07)
    q = V(lanes: 4.00821782732936239552e-06).addingProduct(q, hxs)
    q = V(lanes: -7.93650757867487942473e-05).addingProduct(q, hxs)
    q = V(lanes: 1.58730158725481460165e-03).addingProduct(q, hxs)
    q = V(lanes: -3.33333333333331316428e-02).addingProduct(q, hxs)
    let r1 = V(lanes: 1).addingProduct(hxs, q)
    let t = c(3) - r1 * hfx
    let e0 = hxs * ((r1 - t) / (c(6) - r * t))
    let e = (r * (e0 - reduction) - reduction) - hxs
    let p = r - e
    let one = c(1) + p
    let oneLow = (c(1) - one) + p
    let k1 = (k * c(0.5)).rounded(.down)
    let (s1, s2) = (power2(k1), power2(k - k1))
    return ((one * s1) * s2, (oneLow * s1) * s2)
  }

  /// n/(a + b) for n, a + b ≥ 0, with the rounding errors of the sum
  /// (two-sum) and of the quotient (fma residual) corrected: one division
  /// and one rounding of a first-order correction.
  @inlinable @inline(__always)
  static func quotient<V: MathLanes>(_ n: V, _ a: V, _ b: V) -> V {
    let d = a + b
    let bb = d - a
    let sumError = (a - (d - bb)) + (b - bb)
    let reciprocal = c(1) / d
    let q = n * reciprocal
    let residual = n.addingProduct(q.oringBits(signBit), d)
    return q.addingProduct(residual - q * sumError, reciprocal)
  }

  /// tanh x: below ln(3)/2, x + x³·P(x²) with P the degree-10 Chebyshev fit
  /// of (tanh x − x)/x³ (error 7.5·10⁻¹⁸, from mpmath); from there
  /// 1 − 2/(e^(2|x|) + 1), whose error the division shrinks, with the
  /// division corrected (`quotient`); ±1 from 22 on. Within one ulp.
  @inlinable @inline(__always)
  public static func tanh<V: MathLanes>(_ x: V) -> V {
    let ax = magnitude(x)
    let z = ax * ax
    var p: V = c(-0x1.5a26dac11baa9p-16)
    p = V(lanes: 0x1.652b0bf00e232p-14).addingProduct(p, z)
    p = V(lanes: -0x1.ec1e6ec64b12ap-13).addingProduct(p, z)
    p = V(lanes: 0x1.34c6d323a98f1p-11).addingProduct(p, z)
    p = V(lanes: -0x1.7d97ee0dc9011p-10).addingProduct(p, z)
    p = V(lanes: 0x1.d6d33b16cc415p-9).addingProduct(p, z)
    p = V(lanes: -0x1.226e32f935205p-7).addingProduct(p, z)
    p = V(lanes: 0x1.664f487745f8ap-6).addingProduct(p, z)
    p = V(lanes: -0x1.ba1ba1b9ff565p-5).addingProduct(p, z)
    p = V(lanes: 0x1.1111111111037p-3).addingProduct(p, z)
    p = V(lanes: -0x1.5555555555555p-2).addingProduct(p, z)
    let polynomial = ax.addingProduct(ax, z * p)
    let e = exp(c(2) * V.select(V.less(ax, c(22)), ax, c(22)))
    var y = V.select(V.less(ax, c(0x1.193e_bp-1)), polynomial, c(1) - quotient(c(2), e, c(1)))
    y = V.select(V.lessOrEqual(c(22), ax), c(1), y)
    return nanPassing(x, y.oringBits(x.andingBits(signBit)))
  }

  /// 1/(1 + e⁻ˣ) for x ≥ 0, eˣ/(1 + eˣ) below: e = exp(−|x|) never overflows.
  @inlinable @inline(__always)
  public static func sigmoid<V: MathLanes>(_ x: V) -> V {
    let e = exp(x.oringBits(signBit))
    return nanPassing(x, quotient(V.select(V.lessOrEqual(c(0), x), c(1), e), c(1), e))
  }

  /// max(x, 0) + log1p(exp(−|x|)): never overflows. exp(−|x|) enters as
  /// a pair, so its rounding is not amplified into log1p's result.
  @inlinable @inline(__always)
  public static func softplus<V: MathLanes>(_ x: V) -> V {
    let positive = V.select(V.less(c(0), x), x, c(0))
    let e = expSplit(x.oringBits(signBit))
    return nanPassing(x, positive + log1p(e.hi, low: e.lo))
  }
}

extension VectorMath {
  /// The functions by name, for the loops that map one over a buffer.
  public enum Function: String, Sendable, CaseIterable {
    case exp, log, log1p, tanh, sigmoid, softplus

    @inlinable @inline(__always)
    public func callAsFunction<V: MathLanes>(_ x: V) -> V {
      switch self {
      case .exp: return VectorMath.exp(x)
      case .log: return VectorMath.log(x)
      case .log1p: return VectorMath.log1p(x)
      case .tanh: return VectorMath.tanh(x)
      case .sigmoid: return VectorMath.sigmoid(x)
      case .softplus: return VectorMath.softplus(x)
      }
    }
  }
}

extension VectorMath {
  /// d[i] = f(x[i]) with `Lanes` lanes per step, then one lane at a time:
  /// the same bits whatever the lane type. Inlined into each kernel module,
  /// so each compiles it for its own ISA.
  @inlinable @inline(__always)
  public static func map<Lanes: MathLanes & SIMD>(
    _ f: Function, _ x: UnsafePointer<Double>, _ d: UnsafeMutablePointer<Double>, _ n: Int,
    lanes: Lanes.Type
  ) where Lanes.Scalar == Double {
    switch f {
    case .exp: loop(.exp, x, d, n, lanes)
    case .log: loop(.log, x, d, n, lanes)
    case .log1p: loop(.log1p, x, d, n, lanes)
    case .tanh: loop(.tanh, x, d, n, lanes)
    case .sigmoid: loop(.sigmoid, x, d, n, lanes)
    case .softplus: loop(.softplus, x, d, n, lanes)
    }
  }

  @inlinable @inline(__always)
  static func loop<Lanes: MathLanes & SIMD>(
    _ f: Function, _ x: UnsafePointer<Double>, _ d: UnsafeMutablePointer<Double>, _ n: Int,
    _: Lanes.Type
  ) where Lanes.Scalar == Double {
    let width = Lanes.scalarCount
    var t = 0
    while t + width <= n {
      let v = UnsafeRawPointer(x + t).loadUnaligned(as: Lanes.self)
      UnsafeMutableRawPointer(d + t).storeBytes(of: f(v), as: Lanes.self)
      t += width
    }
    while t < n {
      d[t] = f(x[t])
      t += 1
    }
  }
}
