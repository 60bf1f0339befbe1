/// Unaligned 8-wide loads and stores on `Double` buffers (one `vmovupd`
/// of a ZMM register when this module is built for x86-64-v4).
public typealias Vector8 = SIMD8<Double>
typealias Vector4 = SIMD4<Double>

@inline(__always)
func load8(_ p: UnsafePointer<Double>) -> Vector8 {
  UnsafeRawPointer(p).loadUnaligned(as: Vector8.self)
}

@inline(__always)
func load8(_ p: UnsafeMutablePointer<Double>) -> Vector8 {
  UnsafeRawPointer(p).loadUnaligned(as: Vector8.self)
}

@inline(__always)
func store8(_ v: Vector8, _ p: UnsafeMutablePointer<Double>) {
  UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector8.self)
}

@inline(__always)
func load4(_ p: UnsafePointer<Double>) -> Vector4 {
  UnsafeRawPointer(p).loadUnaligned(as: Vector4.self)
}

/// The AVX2 kernels' lane order for four lanes: (v0 + v1) + (v2 + v3).
@inline(__always)
func horizontalSum(_ v: Vector4) -> Double {
  (v[0] + v[1]) + (v[2] + v[3])
}
