import BilevelKernelsAVX512
import BilevelVectorMath

/// The transcendentals (BilevelVectorMath) mapped over buffers: eight lanes
/// a step (two AVX2 vectors here, one vector on the AVX-512 path), then one
/// lane at a time. Every width runs the same operations per lane, so the
/// bits never depend on the path, the width or where a block starts.
public enum TranscendentalLoops {
  /// d[i] = f(x[i]) for i < n on the process's kernel path.
  @inline(__always)
  public static func map(
    _ f: VectorMath.Function, _ x: UnsafePointer<Double>, _ d: UnsafeMutablePointer<Double>,
    _ n: Int
  ) {
    if wideKernels { return Elementwise512.transcendental(f, x, d, n) }
    map8(f, x, d, n)
  }

  @inline(never)
  static func map8(
    _ f: VectorMath.Function, _ x: UnsafePointer<Double>, _ d: UnsafeMutablePointer<Double>,
    _ n: Int
  ) {
    VectorMath.map(f, x, d, n, lanes: SIMD8<Double>.self)
  }

  /// The same map with `width` lanes a step (1, 4 or 8) on this module's
  /// ISA, for the tests that compare widths bit for bit.
  @inline(never)
  public static func map(
    _ f: VectorMath.Function, _ x: UnsafePointer<Double>, _ d: UnsafeMutablePointer<Double>,
    _ n: Int, width: Int
  ) {
    switch width {
    case 1: for t in 0..<n { d[t] = f(x[t]) }
    case 4: VectorMath.map(f, x, d, n, lanes: SIMD4<Double>.self)
    default: VectorMath.map(f, x, d, n, lanes: SIMD8<Double>.self)
    }
  }
}
