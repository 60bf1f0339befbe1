/// GEMV's two loops (BilevelCore's `GEMV.Job.plainRange` and
/// `transposedRange`) with 8-wide vectors. The plain form keeps the AVX2
/// dot order exactly: its two 4-wide accumulators over blocks of 8 are the
/// halves of one 8-wide accumulator, the lone 4-block goes into the low
/// half, and the halves are combined as before. The transposed form is one
/// FMA chain per y element in row order, so its width never mattered.
public enum GEMV512 {
  /// Rows `lo..<hi` of y = alpha·A·x + beta·y (beta == 0 never reads y).
  @inline(never)
  public static func plainRange(
    _ lo: Int, _ hi: Int, n: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
    x: UnsafePointer<Double>, beta: Double, y: UnsafeMutablePointer<Double>
  ) {
    @inline(__always) func finish(_ i: Int, _ d: Double) {
      y[i] = beta == 0 ? alpha * d : alpha * d + beta * y[i]
    }
    var i = lo
    while i + 4 <= hi {
      let r0 = a + i * lda, r1 = r0 + lda, r2 = r0 + 2 * lda, r3 = r0 + 3 * lda
      var s0 = Vector8(), s1 = Vector8(), s2 = Vector8(), s3 = Vector8()
      var j = 0
      while j + 8 <= n {
        let xv = load8(x + j)
        s0 = s0.addingProduct(load8(r0 + j), xv)
        s1 = s1.addingProduct(load8(r1 + j), xv)
        s2 = s2.addingProduct(load8(r2 + j), xv)
        s3 = s3.addingProduct(load8(r3 + j), xv)
        j += 8
      }
      var l0 = s0.lowHalf, l1 = s1.lowHalf, l2 = s2.lowHalf, l3 = s3.lowHalf
      if j + 4 <= n {
        let xv = load4(x + j)
        l0 = l0.addingProduct(load4(r0 + j), xv)
        l1 = l1.addingProduct(load4(r1 + j), xv)
        l2 = l2.addingProduct(load4(r2 + j), xv)
        l3 = l3.addingProduct(load4(r3 + j), xv)
        j += 4
      }
      var d0 = horizontalSum(l0 + s0.highHalf), d1 = horizontalSum(l1 + s1.highHalf)
      var d2 = horizontalSum(l2 + s2.highHalf), d3 = horizontalSum(l3 + s3.highHalf)
      while j < n {
        let xj = x[j]
        d0 = d0.addingProduct(r0[j], xj)
        d1 = d1.addingProduct(r1[j], xj)
        d2 = d2.addingProduct(r2[j], xj)
        d3 = d3.addingProduct(r3[j], xj)
        j += 1
      }
      finish(i, d0)
      finish(i + 1, d1)
      finish(i + 2, d2)
      finish(i + 3, d3)
      i += 4
    }
    while i < hi {
      finish(i, rowDot(n, a + i * lda, x))
      i += 1
    }
  }

  @inline(__always)
  static func rowDot(_ n: Int, _ r: UnsafePointer<Double>, _ x: UnsafePointer<Double>) -> Double {
    var s = Vector8()
    var j = 0
    while j + 8 <= n {
      s = s.addingProduct(load8(r + j), load8(x + j))
      j += 8
    }
    var low = s.lowHalf
    if j + 4 <= n {
      low = low.addingProduct(load4(r + j), load4(x + j))
      j += 4
    }
    var d = horizontalSum(low + s.highHalf)
    while j < n {
      d = d.addingProduct(r[j], x[j])
      j += 1
    }
    return d
  }

  /// Columns `lo..<hi` of y = alpha·Aᵀ·x + beta·y: y ← beta·y, then
  /// y[j] ← fma(alpha·x[i], A[i, j], y[j]) for i in order.
  @inline(never)
  public static func transposedRange(
    _ lo: Int, _ hi: Int, m: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
    x: UnsafePointer<Double>, beta: Double, y: UnsafeMutablePointer<Double>
  ) {
    let yp = y + lo
    let len = hi - lo
    if beta == 0 {
      for j in 0..<len { yp[j] = 0 }
    } else if beta != 1 {
      for j in 0..<len { yp[j] = beta * yp[j] }
    }
    var i = 0
    while i + 4 <= m {
      let x0 = alpha * x[i], x1 = alpha * x[i + 1], x2 = alpha * x[i + 2], x3 = alpha * x[i + 3]
      let r0 = a + i * lda + lo
      let r1 = r0 + lda, r2 = r0 + 2 * lda, r3 = r0 + 3 * lda
      let v0 = Vector8(repeating: x0), v1 = Vector8(repeating: x1)
      let v2 = Vector8(repeating: x2), v3 = Vector8(repeating: x3)
      var j = 0
      while j + 8 <= len {
        var t = load8(yp + j)
        t = t.addingProduct(v0, load8(r0 + j))
        t = t.addingProduct(v1, load8(r1 + j))
        t = t.addingProduct(v2, load8(r2 + j))
        t = t.addingProduct(v3, load8(r3 + j))
        store8(t, yp + j)
        j += 8
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
      Vector512.axpy(len, alpha * x[i], a + i * lda + lo, yp)
      i += 1
    }
  }
}
