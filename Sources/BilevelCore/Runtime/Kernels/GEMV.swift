import BilevelKernelsAVX512

/// Matrix–vector product on a row-major A (m×n, leading dimension lda):
/// `transposeA == false`: y[0..<m] = alpha·A·x + beta·y, x of length n;
/// `transposeA == true`:  y[0..<n] = alpha·Aᵀ·x + beta·y, x of length m.
///
/// Memory-bound (one FMA per element of A), so both forms read A row by
/// row at unit stride: the plain form as four simultaneous row dots, the
/// transposed form as four fused row axpys into y. Results are independent
/// of the thread count: each y element belongs to one thread and keeps its
/// summation order.
public enum GEMV {
  /// Products touching fewer elements of A than this stay on one thread:
  /// two threads measured 1.3× one at n = 256 (A in L2) and 2× at n = 512
  /// (A in L3), and no faster below.
  public static var parallelThreshold: Int { 64 * 1024 }

  /// y = alpha·op(A)·x + beta·y; `beta == 0` never reads y. `threads`: nil
  /// decides by size, otherwise at most that many (clamped to the pool).
  public static func multiply(
    m: Int, n: Int, alpha: Double = 1, a: UnsafePointer<Double>, lda: Int, transposeA: Bool = false,
    x: UnsafePointer<Double>, beta: Double = 0, y: UnsafeMutablePointer<Double>, threads: Int? = nil
  ) {
    run(
      m: m, n: n, alpha: alpha, a: a, lda: lda, transposeA: transposeA, x: x, beta: beta, y: y,
      threads: threads, wide: wideKernels)
  }

  /// `multiply` on the given path instead of the active one (the
  /// benchmark's side-by-side figures); `isa` must be in `KernelISA.supported`.
  public static func multiply(
    m: Int, n: Int, alpha: Double = 1, a: UnsafePointer<Double>, lda: Int, transposeA: Bool = false,
    x: UnsafePointer<Double>, beta: Double = 0, y: UnsafeMutablePointer<Double>,
    threads: Int? = nil,
    isa: KernelISA
  ) {
    precondition(
      KernelISA.supported.contains(isa), "the \(isa.rawValue) kernels cannot run on this machine")
    run(
      m: m, n: n, alpha: alpha, a: a, lda: lda, transposeA: transposeA, x: x, beta: beta, y: y,
      threads: threads, wide: isa == .avx512)
  }

  static func run(
    m: Int, n: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int, transposeA: Bool,
    x: UnsafePointer<Double>, beta: Double, y: UnsafeMutablePointer<Double>, threads: Int?,
    wide: Bool
  ) {
    if m <= 0 || n <= 0 {
      // An empty sum: y = beta·y over y's length.
      let len = transposeA ? n : m
      for i in 0..<max(0, len) { y[i] = beta == 0 ? 0 : beta * y[i] }
      return
    }
    let pool = KernelThreadPool.shared
    let wanted = threads ?? (m * n >= parallelThreshold ? pool.threadCount : 1)
    // Several parts per thread: they cost nothing to split (no packing),
    // and a thread preempted on a busy machine then delays one small part,
    // not half the work. At least 64 rows per part, or 256 columns in the
    // transposed form, whose parts read A in column strips (narrower strips
    // stream worse).
    let outputs = transposeA ? n : m
    let threadsUsed = min(wanted, pool.threadCount)
    let parts =
      threadsUsed <= 1 ? 1 : max(1, min(4 * threadsUsed, outputs / (transposeA ? 256 : 64)))
    var job = Job(
      m: m, n: n, alpha: alpha, a: a, lda: lda, x: x, beta: beta, y: y, parts: parts, wide: wide)
    if parts == 1 {
      if transposeA { job.transposedRange(0, n) } else { job.plainRange(0, m) }
      return
    }
    withUnsafePointer(to: &job) { jp in
      let body: KernelJob =
        transposeA
        ? { raw, p in raw.assumingMemoryBound(to: GEMV.Job.self).pointee.transposedPart(p) }
        : { raw, p in raw.assumingMemoryBound(to: GEMV.Job.self).pointee.plainPart(p) }
      pool.run(parts: parts, context: UnsafeRawPointer(jp), job: body)
    }
  }

  struct Job {
    var m, n: Int
    var alpha: Double
    var a: UnsafePointer<Double>
    var lda: Int
    var x: UnsafePointer<Double>
    var beta: Double
    var y: UnsafeMutablePointer<Double>
    var parts: Int
    /// The AVX-512 loops (BilevelKernelsAVX512) instead of these.
    var wide: Bool

    func plainPart(_ p: Int) {
      let chunk = roundUp((m + parts - 1) / parts, 4)
      let lo = p * chunk
      if lo < m { plainRange(lo, min(m, lo + chunk)) }
    }

    func transposedPart(_ p: Int) {
      let chunk = roundUp((n + parts - 1) / parts, 8)
      let lo = p * chunk
      if lo < n { transposedRange(lo, min(n, lo + chunk)) }
    }

    /// Rows `lo..<hi` of y = alpha·A·x + beta·y.
    func plainRange(_ lo: Int, _ hi: Int) {
      if wide {
        return GEMV512.plainRange(
          lo, hi, n: n, alpha: alpha, a: a, lda: lda, x: x, beta: beta, y: y)
      }
      var i = lo
      while i + 4 <= hi {
        let r = a + i * lda
        let (d0, d1, d2, d3) = GEMV.rowDots4(n, r, lda, x)
        finish(i, d0)
        finish(i + 1, d1)
        finish(i + 2, d2)
        finish(i + 3, d3)
        i += 4
      }
      while i < hi {
        finish(i, GEMV.rowDot(n, a + i * lda, x))
        i += 1
      }
    }

    @inline(__always)
    func finish(_ i: Int, _ d: Double) {
      y[i] = beta == 0 ? alpha * d : alpha * d + beta * y[i]
    }

    /// Columns `lo..<hi` of y = alpha·Aᵀ·x + beta·y, computed as
    /// y ← beta·y, then y[j] ← fma(alpha·x[i], A[i, j], y[j]) for i in order.
    func transposedRange(_ lo: Int, _ hi: Int) {
      if wide {
        return GEMV512.transposedRange(
          lo, hi, m: m, alpha: alpha, a: a, lda: lda, x: x, beta: beta, y: y)
      }
      let yp = y + lo
      let len = hi - lo
      if beta == 0 {
        for j in 0..<len { yp[j] = 0 }
      } else if beta != 1 {
        VectorKernels.scale(len, beta, yp)
      }
      var i = 0
      while i + 4 <= m {
        let x0 = alpha * x[i], x1 = alpha * x[i + 1], x2 = alpha * x[i + 2], x3 = alpha * x[i + 3]
        let r0 = a + i * lda + lo
        let r1 = r0 + lda, r2 = r0 + 2 * lda, r3 = r0 + 3 * lda
        let v0 = Vector4(repeating: x0), v1 = Vector4(repeating: x1)
        let v2 = Vector4(repeating: x2), v3 = Vector4(repeating: x3)
        var j = 0
        while j + 4 <= len {
          var t = loadVector4(yp + j)
          t = t.addingProduct(v0, loadVector4(r0 + j))
          t = t.addingProduct(v1, loadVector4(r1 + j))
          t = t.addingProduct(v2, loadVector4(r2 + j))
          t = t.addingProduct(v3, loadVector4(r3 + j))
          storeVector4(t, yp + j)
          j += 4
        }
        while j < len {
          var t = yp[j]
          t = t.addingProduct(x0, r0[j])
          t = t.addingProduct(x1, r1[j])
          t = t.addingProduct(x2, r2[j])
          t = t.addingProduct(x3, r3[j])
          yp[j] = t
          j += 1
        }
        i += 4
      }
      while i < m {
        VectorKernels.axpy(len, alpha * x[i], a + i * lda + lo, yp)
        i += 1
      }
    }
  }

  /// One row's dot product in GEMV's order: two 4-wide accumulators over
  /// blocks of 8, one more 4-block into the first, (s0 + s1) summed
  /// pairwise, then the scalar tail. `rowDots4` follows the same order.
  @inline(__always)
  static func rowDot(_ n: Int, _ r: UnsafePointer<Double>, _ x: UnsafePointer<Double>) -> Double {
    var s0 = Vector4(), s1 = Vector4()
    var j = 0
    while j + 8 <= n {
      s0 = s0.addingProduct(loadVector4(r + j), loadVector4(x + j))
      s1 = s1.addingProduct(loadVector4(r + j + 4), loadVector4(x + j + 4))
      j += 8
    }
    if j + 4 <= n {
      s0 = s0.addingProduct(loadVector4(r + j), loadVector4(x + j))
      j += 4
    }
    var s = horizontalSum(s0 + s1)
    while j < n {
      s = s.addingProduct(r[j], x[j])
      j += 1
    }
    return s
  }

  /// Four consecutive rows at once: eight independent FMA chains, and each
  /// x vector loaded once for four rows.
  @inline(__always)
  static func rowDots4(
    _ n: Int, _ r: UnsafePointer<Double>, _ lda: Int, _ x: UnsafePointer<Double>
  ) -> (Double, Double, Double, Double) {
    let r0 = r, r1 = r + lda, r2 = r + 2 * lda, r3 = r + 3 * lda
    var a0 = Vector4(), a1 = Vector4(), b0 = Vector4(), b1 = Vector4()
    var c0 = Vector4(), c1 = Vector4(), d0 = Vector4(), d1 = Vector4()
    var j = 0
    while j + 8 <= n {
      let x0 = loadVector4(x + j), x1 = loadVector4(x + j + 4)
      a0 = a0.addingProduct(loadVector4(r0 + j), x0)
      a1 = a1.addingProduct(loadVector4(r0 + j + 4), x1)
      b0 = b0.addingProduct(loadVector4(r1 + j), x0)
      b1 = b1.addingProduct(loadVector4(r1 + j + 4), x1)
      c0 = c0.addingProduct(loadVector4(r2 + j), x0)
      c1 = c1.addingProduct(loadVector4(r2 + j + 4), x1)
      d0 = d0.addingProduct(loadVector4(r3 + j), x0)
      d1 = d1.addingProduct(loadVector4(r3 + j + 4), x1)
      j += 8
    }
    if j + 4 <= n {
      let x0 = loadVector4(x + j)
      a0 = a0.addingProduct(loadVector4(r0 + j), x0)
      b0 = b0.addingProduct(loadVector4(r1 + j), x0)
      c0 = c0.addingProduct(loadVector4(r2 + j), x0)
      d0 = d0.addingProduct(loadVector4(r3 + j), x0)
      j += 4
    }
    var sa = horizontalSum(a0 + a1), sb = horizontalSum(b0 + b1)
    var sc = horizontalSum(c0 + c1), sd = horizontalSum(d0 + d1)
    while j < n {
      let xj = x[j]
      sa = sa.addingProduct(r0[j], xj)
      sb = sb.addingProduct(r1[j], xj)
      sc = sc.addingProduct(r2[j], xj)
      sd = sd.addingProduct(r3[j], xj)
      j += 1
    }
    return (sa, sb, sc, sd)
  }
}
