import BilevelKernelsAVX512

/// Level-1 helpers (dot, axpy, scale) on contiguous `Double` buffers.
///
/// Each has one fixed summation order (documented per function), so a
/// result never depends on alignment, on the caller's blocking or on
/// threads: the factorizations and GEMV build their determinism on this.
public enum VectorKernels {
  /// Σ x[i]·y[i]. Order: four 4-wide FMA accumulators over blocks of 16
  /// (16 independent chains hide the FMA latency), then one 4-wide block at
  /// a time into the first, combined as (s0 + s1) + (s2 + s3), lanes summed
  /// pairwise, then the scalar tail in index order.
  @inline(__always)
  public static func dot(_ n: Int, _ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>) -> Double
  {
    var s0 = Vector4(), s1 = Vector4(), s2 = Vector4(), s3 = Vector4()
    var i = 0
    while i + 16 <= n {
      s0 = s0.addingProduct(loadVector4(x + i), loadVector4(y + i))
      s1 = s1.addingProduct(loadVector4(x + i + 4), loadVector4(y + i + 4))
      s2 = s2.addingProduct(loadVector4(x + i + 8), loadVector4(y + i + 8))
      s3 = s3.addingProduct(loadVector4(x + i + 12), loadVector4(y + i + 12))
      i += 16
    }
    while i + 4 <= n {
      s0 = s0.addingProduct(loadVector4(x + i), loadVector4(y + i))
      i += 4
    }
    var s = horizontalSum((s0 + s1) + (s2 + s3))
    while i < n {
      s = s.addingProduct(x[i], y[i])
      i += 1
    }
    return s
  }

  /// y[i] += alpha·x[i] (one FMA per element, so the order is trivially
  /// fixed). x and y may be the same buffer but must not otherwise overlap.
  @inline(__always)
  public static func axpy(
    _ n: Int, _ alpha: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>
  ) {
    // Long rows only: below this the call costs more than the width saves
    // (either loop gives the same bits).
    if wideKernels && n >= 64 { return Vector512.axpy(n, alpha, x, y) }
    axpy4(n, alpha, x, y)
  }

  /// axpy with 4-wide vectors (the AVX2 and portable loop).
  @inline(__always)
  static func axpy4(
    _ n: Int, _ alpha: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>
  ) {
    let va = Vector4(repeating: alpha)
    var i = 0
    while i + 8 <= n {
      storeVector4(loadVector4(y + i).addingProduct(va, loadVector4(x + i)), y + i)
      storeVector4(loadVector4(y + i + 4).addingProduct(va, loadVector4(x + i + 4)), y + i + 4)
      i += 8
    }
    while i + 4 <= n {
      storeVector4(loadVector4(y + i).addingProduct(va, loadVector4(x + i)), y + i)
      i += 4
    }
    while i < n {
      y[i] = y[i].addingProduct(alpha, x[i])
      i += 1
    }
  }

  /// x[i] *= alpha.
  @inline(__always)
  public static func scale(_ n: Int, _ alpha: Double, _ x: UnsafeMutablePointer<Double>) {
    let va = Vector4(repeating: alpha)
    var i = 0
    while i + 4 <= n {
      storeVector4(va * loadVector4(x + i), x + i)
      i += 4
    }
    while i < n {
      x[i] *= alpha
      i += 1
    }
  }
}
