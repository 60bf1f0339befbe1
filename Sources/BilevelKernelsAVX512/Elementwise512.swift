import BilevelVectorMath

/// The fused kernels' arithmetic loops (BilevelCore's `FusedLoops`) with
/// 8-wide vectors. Every entry is one IEEE operation on its own, the same
/// operation the scalar loop performs, so the results are the same bits.
/// The transcendentals are BilevelVectorMath's, whose operations per lane
/// do not depend on the width.
public enum Elementwise512 {
  /// A block operand: a stride-1 run, or one value for every entry.
  public enum Operand {
    case run(UnsafePointer<Double>)
    case value(Double)
  }

  public enum Unary {
    case copy, negate, sqrt, abs, relu
  }

  /// `square` and `cube` are `power` with the constant exponent 2 or 3,
  /// computed as products (x·x, x·x·x) as the shared loop does.
  public enum Binary {
    case add, subtract, multiply, divide, square, cube
  }

  @inline(never)
  public static func unary(_ f: Unary, _ x: Operand, _ d: UnsafeMutablePointer<Double>, _ n: Int) {
    switch f {
    case .copy: map(x, d, n, { $0 }, { $0 })
    case .negate:
      // Flipping the sign bit: SIMD's prefix minus is 0 - x, which loses
      // the sign of 0 and of NaN.
      let sign = SIMD8<UInt64>(repeating: 1 << 63)
      map(
        x, d, n,
        { unsafeBitCast(unsafeBitCast($0, to: SIMD8<UInt64>.self) ^ sign, to: Vector8.self) },
        { -$0 })
    case .sqrt: map(x, d, n, { $0.squareRoot() }, { $0.squareRoot() })
    case .abs:
      // Clearing the sign bit is `magnitude`, NaN included.
      let mask = SIMD8<UInt64>(repeating: ~(1 << 63))
      map(
        x, d, n,
        { unsafeBitCast(unsafeBitCast($0, to: SIMD8<UInt64>.self) & mask, to: Vector8.self) },
        { Swift.abs($0) })
    case .relu:
      // NaN fails `> 0`, so it becomes 0, as in the scalar `x > 0 ? x : 0`.
      map(x, d, n, { Vector8().replacing(with: $0, where: $0 .> 0) }, { $0 > 0 ? $0 : 0 })
    }
  }

  /// d[i] = f(x[i]) with 8-wide AVX-512 vectors.
  @inline(never)
  public static func transcendental(
    _ f: VectorMath.Function, _ x: UnsafePointer<Double>, _ d: UnsafeMutablePointer<Double>,
    _ n: Int
  ) {
    VectorMath.map(f, x, d, n, lanes: Vector8.self)
  }

  @inline(never)
  public static func binary(
    _ f: Binary, _ x: Operand, _ y: Operand, _ d: UnsafeMutablePointer<Double>, _ n: Int
  ) {
    switch f {
    case .add: zip(x, y, d, n, { $0 + $1 }, { $0 + $1 })
    case .subtract: zip(x, y, d, n, { $0 - $1 }, { $0 - $1 })
    case .multiply: zip(x, y, d, n, { $0 * $1 }, { $0 * $1 })
    case .divide: zip(x, y, d, n, { $0 / $1 }, { $0 / $1 })
    case .square: map(x, d, n, { $0 * $0 }, { $0 * $0 })
    case .cube: map(x, d, n, { $0 * $0 * $0 }, { $0 * $0 * $0 })
    }
  }

  @inline(__always)
  static func map(
    _ x: Operand, _ d: UnsafeMutablePointer<Double>, _ n: Int,
    _ vf: (Vector8) -> Vector8, _ f: (Double) -> Double
  ) {
    switch x {
    case .run(let a):
      var t = 0
      while t + 8 <= n {
        store8(vf(load8(a + t)), d + t)
        t += 8
      }
      while t < n {
        d[t] = f(a[t])
        t += 1
      }
    case .value(let v): fill(d, n, f(v))
    }
  }

  @inline(__always)
  static func zip(
    _ x: Operand, _ y: Operand, _ d: UnsafeMutablePointer<Double>, _ n: Int,
    _ vf: (Vector8, Vector8) -> Vector8, _ f: (Double, Double) -> Double
  ) {
    var t = 0
    switch (x, y) {
    case (.run(let a), .run(let b)):
      while t + 8 <= n {
        store8(vf(load8(a + t), load8(b + t)), d + t)
        t += 8
      }
      while t < n {
        d[t] = f(a[t], b[t])
        t += 1
      }
    case (.run(let a), .value(let v)):
      let vv = Vector8(repeating: v)
      while t + 8 <= n {
        store8(vf(load8(a + t), vv), d + t)
        t += 8
      }
      while t < n {
        d[t] = f(a[t], v)
        t += 1
      }
    case (.value(let u), .run(let b)):
      let vu = Vector8(repeating: u)
      while t + 8 <= n {
        store8(vf(vu, load8(b + t)), d + t)
        t += 8
      }
      while t < n {
        d[t] = f(u, b[t])
        t += 1
      }
    case (.value(let u), .value(let v)): fill(d, n, f(u, v))
    }
  }

  @inline(__always)
  static func fill(_ d: UnsafeMutablePointer<Double>, _ n: Int, _ z: Double) {
    let vz = Vector8(repeating: z)
    var t = 0
    while t + 8 <= n {
      store8(vz, d + t)
      t += 8
    }
    while t < n {
      d[t] = z
      t += 1
    }
  }
}
