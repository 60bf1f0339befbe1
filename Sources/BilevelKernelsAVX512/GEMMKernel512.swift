/// Where the micro-kernel finds sliver `s` of a GEMM operand: the same
/// description as BilevelCore's `GEMM.Slivers` (packed slivers are
/// contiguous blocks; an operand read in place is addressed directly,
/// except its zero-padded trailing sliver in `edge`).
public struct SliverLayout {
  public var base: UnsafePointer<Double>
  public var step: Int
  public var stride: Int
  public var full: Int
  public var edge: UnsafePointer<Double>
  public var edgeStep: Int

  public init(
    base: UnsafePointer<Double>, step: Int, stride: Int, full: Int, edge: UnsafePointer<Double>,
    edgeStep: Int
  ) {
    self.base = base
    self.step = step
    self.stride = stride
    self.full = full
    self.edge = edge
    self.edgeStep = edgeStep
  }

  @inline(__always)
  func sliver(_ s: Int) -> (UnsafePointer<Double>, Int) {
    s < full ? (base + s * stride, step) : (edge, edgeStep)
  }
}

/// The AVX-512 GEMM register tile: 24×8 of C in 24 ZMM accumulators (of
/// 32), one 8-wide B vector per k step, each A value broadcast straight
/// from memory into its FMA. Each C element is the AVX2 tile's FMA chain
/// in k order, so the two paths give the same bits; only more rows share
/// each B load.
public enum GEMMKernel512 {
  public static let rows = 24
  public static let columns = 8

  /// The AVX2 macro-kernel's sweep with the wider tile: column slivers
  /// outside, row slivers inside; edge tiles go through `tile` (rows ×
  /// columns doubles) and the same update formula.
  @inline(never)
  public static func macroKernel(
    mb: Int, nb: Int, kb: Int, a: SliverLayout, b: SliverLayout,
    c: UnsafeMutablePointer<Double>, ldc: Int, alpha: Double, beta: Double,
    tile: UnsafeMutablePointer<Double>
  ) {
    let mr = rows, nr = columns
    var jr = 0, js = 0
    while jr < nb {
      let cols = min(nr, nb - jr)
      let (bp, bStep) = b.sliver(js)
      var ir = 0, iS = 0
      while ir < mb {
        let rowCount = min(mr, mb - ir)
        let (ap, aStep) = a.sliver(iS)
        let cp = c + ir * ldc + jr
        if rowCount == mr && cols == nr {
          microKernel(kb, ap, aStep, bp, bStep, cp, ldc, alpha: alpha, beta: beta)
        } else {
          microKernel(kb, ap, aStep, bp, bStep, tile, nr, alpha: alpha, beta: 0)
          storeEdge(tile, cp, rows: rowCount, cols: cols, ldc: ldc, beta: beta)
        }
        ir += mr
        iS += 1
      }
      jr += nr
      js += 1
    }
  }

  @inline(__always)
  static func microKernel(
    _ kc: Int, _ a: UnsafePointer<Double>, _ aStep: Int, _ b: UnsafePointer<Double>, _ bStep: Int,
    _ c: UnsafeMutablePointer<Double>, _ ldc: Int, alpha: Double, beta: Double
  ) {
    var g0 = FourRows(), g1 = FourRows(), g2 = FourRows()
    var g3 = FourRows(), g4 = FourRows(), g5 = FourRows()
    var pa = a, pb = b
    var p = 0
    while p < kc {
      let bv = load8(pb)
      g0.accumulate(pa, bv)
      g1.accumulate(pa + 4, bv)
      g2.accumulate(pa + 8, bv)
      g3.accumulate(pa + 12, bv)
      g4.accumulate(pa + 16, bv)
      g5.accumulate(pa + 20, bv)
      pa += aStep
      pb += bStep
      p += 1
    }
    let va = Vector8(repeating: alpha), vb = Vector8(repeating: beta)
    g0.store(c, ldc, va, vb, beta == 0)
    g1.store(c + 4 * ldc, ldc, va, vb, beta == 0)
    g2.store(c + 8 * ldc, ldc, va, vb, beta == 0)
    g3.store(c + 12 * ldc, ldc, va, vb, beta == 0)
    g4.store(c + 16 * ldc, ldc, va, vb, beta == 0)
    g5.store(c + 20 * ldc, ldc, va, vb, beta == 0)
  }

  /// `t + beta·c` as a separate multiply and add, as the full tile does.
  @inline(never)
  static func storeEdge(
    _ tile: UnsafePointer<Double>, _ c: UnsafeMutablePointer<Double>, rows: Int, cols: Int,
    ldc: Int, beta: Double
  ) {
    for i in 0..<rows {
      let t = tile + i * columns
      let ci = c + i * ldc
      if beta == 0 {
        for j in 0..<cols { ci[j] = t[j] }
      } else {
        for j in 0..<cols { ci[j] = t[j] + beta * ci[j] }
      }
    }
  }
}

/// Four rows of the tile's accumulators, so the kernel reads as six groups.
struct FourRows {
  var r0 = Vector8(), r1 = Vector8(), r2 = Vector8(), r3 = Vector8()

  /// r_i += a[i]·b: fma(a[i], b, r_i), the AVX2 kernel's operation per lane.
  @inline(__always)
  mutating func accumulate(_ a: UnsafePointer<Double>, _ b: Vector8) {
    r0 = r0.addingProduct(Vector8(repeating: a[0]), b)
    r1 = r1.addingProduct(Vector8(repeating: a[1]), b)
    r2 = r2.addingProduct(Vector8(repeating: a[2]), b)
    r3 = r3.addingProduct(Vector8(repeating: a[3]), b)
  }

  /// alpha·r (+ beta·C as a separate multiply and add; C unread when beta is 0).
  @inline(__always)
  func store(
    _ c: UnsafeMutablePointer<Double>, _ ldc: Int, _ va: Vector8, _ vb: Vector8, _ betaZero: Bool
  ) {
    if betaZero {
      store8(va * r0, c)
      store8(va * r1, c + ldc)
      store8(va * r2, c + 2 * ldc)
      store8(va * r3, c + 3 * ldc)
    } else {
      store8(va * r0 + vb * load8(c), c)
      store8(va * r1 + vb * load8(c + ldc), c + ldc)
      store8(va * r2 + vb * load8(c + 2 * ldc), c + 2 * ldc)
      store8(va * r3 + vb * load8(c + 3 * ldc), c + 3 * ldc)
    }
  }
}
