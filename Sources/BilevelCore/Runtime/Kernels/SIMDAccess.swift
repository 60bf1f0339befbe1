/// Unaligned SIMD loads and stores on `Double` buffers.
///
/// The kernels work on caller-owned memory whose alignment they cannot
/// choose, so every vector access is unaligned; on x86-64-v3 these lower to
/// single `vmovupd` instructions, which cost the same as aligned ones when
/// the data happens to be aligned.
typealias Vector4 = SIMD4<Double>

@inline(__always)
func loadVector4(_ p: UnsafePointer<Double>) -> Vector4 {
  UnsafeRawPointer(p).loadUnaligned(as: Vector4.self)
}

@inline(__always)
func loadVector4(_ p: UnsafeMutablePointer<Double>) -> Vector4 {
  UnsafeRawPointer(p).loadUnaligned(as: Vector4.self)
}

@inline(__always)
func storeVector4(_ v: Vector4, _ p: UnsafeMutablePointer<Double>) {
  UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector4.self)
}

/// Sums the four lanes in a fixed order, so that reductions are reproducible
/// whatever the vector width the compiler would otherwise pick.
@inline(__always)
func horizontalSum(_ v: Vector4) -> Double {
  (v[0] + v[1]) + (v[2] + v[3])
}
