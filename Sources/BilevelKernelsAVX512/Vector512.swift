/// Level-1 loops with 8-wide vectors. Only axpy: it is one FMA per
/// element, so any width gives the same bits. `VectorKernels.dot` stays
/// shared: its fixed blocking (four 4-wide FMA chains over blocks of 16)
/// would be two 8-wide chains here, the same latency-bound dependency
/// chains, so the width buys nothing without changing the sum's order.
public enum Vector512 {
  /// y[i] += alpha·x[i], one FMA per element.
  @inline(never)
  public static func axpy(
    _ n: Int, _ alpha: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>
  ) {
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
}
