/// The GEMM register tile: a 5×8 block of C held in ten 4-wide vector
/// accumulators while one packed A sliver (5 rows) and one packed B sliver
/// (8 columns) stream through.
///
/// Why 5×8 (measured against 4×8, 3×12 and 6×8 on Zen 3): x86-64-v3 has
/// sixteen 256-bit registers and LLVM schedules all of one step's A
/// broadcasts before their FMAs, so a step needs accumulators + 1 B vector
/// + all broadcasts live: 10 + 1 + 5 = 16 fits, while 6×8 (12 + 1 + 6)
/// spills and runs at a third of the speed. Ten independent FMA chains
/// also cover the FMA latency × 2 pipes (8 on Zen 3, 10 on Haswell).
enum MicroTile {
  static let rows = 5
  static let columns = 8
}

/// C[0..<5, 0..<8] = alpha·(Ã·B̃) + beta·C, where step p reads the 5 values
/// `a[p·aStep ..< p·aStep + 5]` and the 8 values `b[p·bStep ..< p·bStep + 8]`
/// (steps 5 and 8 when packed, the leading dimension when read in place). `beta == 0` never
/// reads C, so uninitialised or NaN output memory is overwritten cleanly.
///
/// Every element's sum is the same FMA chain in k order whatever tile or
/// thread computes it: this is what makes threaded results bit-identical.
@inline(__always)
func gemmMicroKernel(
  _ kc: Int, _ a: UnsafePointer<Double>, _ aStep: Int, _ b: UnsafePointer<Double>, _ bStep: Int,
  _ c: UnsafeMutablePointer<Double>, _ ldc: Int, alpha: Double, beta: Double
) {
  var c00 = Vector4(), c01 = Vector4()
  var c10 = Vector4(), c11 = Vector4()
  var c20 = Vector4(), c21 = Vector4()
  var c30 = Vector4(), c31 = Vector4()
  var c40 = Vector4(), c41 = Vector4()
  var pa = a
  var pb = b
  var p = 0
  while p < kc {
    let b0 = loadVector4(pb)
    let b1 = loadVector4(pb + 4)
    let a0 = Vector4(repeating: pa[0])
    c00 = c00.addingProduct(a0, b0)
    c01 = c01.addingProduct(a0, b1)
    let a1 = Vector4(repeating: pa[1])
    c10 = c10.addingProduct(a1, b0)
    c11 = c11.addingProduct(a1, b1)
    let a2 = Vector4(repeating: pa[2])
    c20 = c20.addingProduct(a2, b0)
    c21 = c21.addingProduct(a2, b1)
    let a3 = Vector4(repeating: pa[3])
    c30 = c30.addingProduct(a3, b0)
    c31 = c31.addingProduct(a3, b1)
    let a4 = Vector4(repeating: pa[4])
    c40 = c40.addingProduct(a4, b0)
    c41 = c41.addingProduct(a4, b1)
    pa += aStep
    pb += bStep
    p += 1
  }
  let va = Vector4(repeating: alpha)
  if beta == 0 {
    storeRow(c, va * c00, va * c01)
    storeRow(c + ldc, va * c10, va * c11)
    storeRow(c + 2 * ldc, va * c20, va * c21)
    storeRow(c + 3 * ldc, va * c30, va * c31)
    storeRow(c + 4 * ldc, va * c40, va * c41)
  } else {
    let vb = Vector4(repeating: beta)
    updateRow(c, va * c00, va * c01, vb)
    updateRow(c + ldc, va * c10, va * c11, vb)
    updateRow(c + 2 * ldc, va * c20, va * c21, vb)
    updateRow(c + 3 * ldc, va * c30, va * c31, vb)
    updateRow(c + 4 * ldc, va * c40, va * c41, vb)
  }
}

@inline(__always)
private func storeRow(_ c: UnsafeMutablePointer<Double>, _ v0: Vector4, _ v1: Vector4) {
  storeVector4(v0, c)
  storeVector4(v1, c + 4)
}

/// `t + beta·c` as a separate multiply and add (Swift never contracts them
/// into an FMA), matching `GEMM.storeEdge` bit for bit.
@inline(__always)
private func updateRow(
  _ c: UnsafeMutablePointer<Double>, _ v0: Vector4, _ v1: Vector4, _ vb: Vector4
) {
  storeVector4(v0 + vb * loadVector4(c), c)
  storeVector4(v1 + vb * loadVector4(c + 4), c + 4)
}
