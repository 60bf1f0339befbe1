/// The GEMM register tile: a 6×8 block of C held in twelve 4-wide vector
/// accumulators while one packed A sliver (6 rows) and one packed B sliver
/// (8 columns) stream through.
///
/// Why 6×8: x86-64-v3 has sixteen 256-bit registers; twelve accumulators,
/// two B vectors and one or two A broadcasts fill them without spilling,
/// and each k step does 12 FMAs for 2 vector loads + 6 broadcasts, enough to
/// keep both FMA pipes busy (the same shape BLIS uses on Haswell/Zen).
enum MicroTile {
  static let rows = 6
  static let columns = 8
}

/// C[0..<6, 0..<8] = alpha·(Ã·B̃) + beta·C, with Ã packed k-major (6 values
/// per step) and B̃ packed k-major (8 values per step). `beta == 0` never
/// reads C, so uninitialised or NaN output memory is overwritten cleanly.
///
/// Every element's sum is the same FMA chain in k order whatever tile or
/// thread computes it: this is what makes threaded results bit-identical.
@inline(__always)
func gemmMicroKernel6x8(
  _ kc: Int, _ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>,
  _ c: UnsafeMutablePointer<Double>, _ ldc: Int, alpha: Double, beta: Double
) {
  var c00 = Vector4(), c01 = Vector4()
  var c10 = Vector4(), c11 = Vector4()
  var c20 = Vector4(), c21 = Vector4()
  var c30 = Vector4(), c31 = Vector4()
  var c40 = Vector4(), c41 = Vector4()
  var c50 = Vector4(), c51 = Vector4()
  var pa = a
  var pb = b
  var p = 0
  while p < kc {
    let b0 = loadVector4(pb)
    let b1 = loadVector4(pb + 4)
    var av = Vector4(repeating: pa[0])
    c00 = c00.addingProduct(av, b0)
    c01 = c01.addingProduct(av, b1)
    av = Vector4(repeating: pa[1])
    c10 = c10.addingProduct(av, b0)
    c11 = c11.addingProduct(av, b1)
    av = Vector4(repeating: pa[2])
    c20 = c20.addingProduct(av, b0)
    c21 = c21.addingProduct(av, b1)
    av = Vector4(repeating: pa[3])
    c30 = c30.addingProduct(av, b0)
    c31 = c31.addingProduct(av, b1)
    av = Vector4(repeating: pa[4])
    c40 = c40.addingProduct(av, b0)
    c41 = c41.addingProduct(av, b1)
    av = Vector4(repeating: pa[5])
    c50 = c50.addingProduct(av, b0)
    c51 = c51.addingProduct(av, b1)
    pa += 6
    pb += 8
    p += 1
  }
  let va = Vector4(repeating: alpha)
  if beta == 0 {
    storeRow(c, va * c00, va * c01)
    storeRow(c + ldc, va * c10, va * c11)
    storeRow(c + 2 * ldc, va * c20, va * c21)
    storeRow(c + 3 * ldc, va * c30, va * c31)
    storeRow(c + 4 * ldc, va * c40, va * c41)
    storeRow(c + 5 * ldc, va * c50, va * c51)
  } else {
    let vb = Vector4(repeating: beta)
    updateRow(c, va * c00, va * c01, vb)
    updateRow(c + ldc, va * c10, va * c11, vb)
    updateRow(c + 2 * ldc, va * c20, va * c21, vb)
    updateRow(c + 3 * ldc, va * c30, va * c31, vb)
    updateRow(c + 4 * ldc, va * c40, va * c41, vb)
    updateRow(c + 5 * ldc, va * c50, va * c51, vb)
  }
}

@inline(__always)
private func storeRow(_ c: UnsafeMutablePointer<Double>, _ v0: Vector4, _ v1: Vector4) {
  storeVector4(v0, c)
  storeVector4(v1, c + 4)
}

/// `t + beta·c`, written as separate multiply and add (never contracted),
/// matching `GEMM.storeEdge` bit for bit.
@inline(__always)
private func updateRow(_ c: UnsafeMutablePointer<Double>, _ v0: Vector4, _ v1: Vector4, _ vb: Vector4) {
  storeVector4(v0 + vb * loadVector4(c), c)
  storeVector4(v1 + vb * loadVector4(c + 4), c + 4)
}
