/// Level-1 loops with 8-wide vectors, in BilevelCore's `VectorKernels`
/// orders: axpy and scale are one operation per element; dot keeps the
/// AVX2 blocking (four 4-wide accumulators over blocks of 16 are the
/// halves of two 8-wide ones), so its sum is the same bits.
public enum Vector512 {
  /// y[i] += alpha·x[i], one FMA per element.
  @inline(never)
  public static func axpy(_ n: Int, _ alpha: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>) {
    let va = Vector8(repeating: alpha)
    var i = 0
    while i + 16 <= n {
      store8(load8(y + i).addingProduct(va, load8(x + i)), y + i)
      store8(load8(y + i + 8).addingProduct(va, load8(x + i + 8)), y + i + 8)
      i += 16
    }
    while i + 8 <= n {
      store8(load8(y + i).addingProduct(va, load8(x + i)), y + i)
      i += 8
    }
    while i < n {
      y[i] = y[i].addingProduct(alpha, x[i])
      i += 1
    }
  }

  /// Σ x[i]·y[i] in `VectorKernels.dot`'s order.
  @inline(never)
  public static func dot(_ n: Int, _ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>) -> Double {
    var s01 = Vector8(), s23 = Vector8()
    var i = 0
    while i + 16 <= n {
      s01 = s01.addingProduct(load8(x + i), load8(y + i))
      s23 = s23.addingProduct(load8(x + i + 8), load8(y + i + 8))
      i += 16
    }
    var s0 = s01.lowHalf
    while i + 4 <= n {
      s0 = s0.addingProduct(load4(x + i), load4(y + i))
      i += 4
    }
    var s = horizontalSum((s0 + s01.highHalf) + (s23.lowHalf + s23.highHalf))
    while i < n {
      s = s.addingProduct(x[i], y[i])
      i += 1
    }
    return s
  }
}
