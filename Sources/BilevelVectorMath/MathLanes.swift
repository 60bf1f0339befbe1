/// The lanes the transcendentals (`VectorMath`) run on: one `Double`, or a
/// SIMD vector of them. Every requirement is one IEEE operation (or a bit
/// operation) per lane, so the same generic code gives the same bits per
/// element whatever the width: the scalar, AVX2 and AVX-512 paths agree.
public protocol MathLanes {
  associatedtype Mask
  init(lanes value: Double)
  static func + (a: Self, b: Self) -> Self
  static func - (a: Self, b: Self) -> Self
  static func * (a: Self, b: Self) -> Self
  static func / (a: Self, b: Self) -> Self
  /// self + a·b with one rounding.
  func addingProduct(_ a: Self, _ b: Self) -> Self
  /// Round to an integer (`.toNearestOrEven` or `.towardZero`).
  func rounded(_ rule: FloatingPointRoundingRule) -> Self
  static func less(_ a: Self, _ b: Self) -> Mask
  static func lessOrEqual(_ a: Self, _ b: Self) -> Mask
  static func equal(_ a: Self, _ b: Self) -> Mask
  static func both(_ m: Mask, _ n: Mask) -> Mask
  static func either(_ m: Mask, _ n: Mask) -> Mask
  /// `m ? a : b` per lane.
  static func select(_ m: Mask, _ a: Self, _ b: Self) -> Self
  /// Integer operations on each lane's bit pattern (wrapping, logical shifts).
  func addingToBits(_ c: UInt64) -> Self
  func shiftingBitsLeft(_ n: UInt64) -> Self
  func shiftingBitsRight(_ n: UInt64) -> Self
  func andingBits(_ c: UInt64) -> Self
  func oringBits(_ c: UInt64) -> Self
  func oringBits(_ other: Self) -> Self
}

extension Double: MathLanes {
  public typealias Mask = Bool
  @inlinable @inline(__always) public init(lanes value: Double) { self = value }
  @inlinable @inline(__always) public static func less(_ a: Double, _ b: Double) -> Bool { a < b }
  @inlinable @inline(__always)
  public static func lessOrEqual(_ a: Double, _ b: Double) -> Bool { a <= b }
  @inlinable @inline(__always) public static func equal(_ a: Double, _ b: Double) -> Bool { a == b }
  @inlinable @inline(__always) public static func both(_ m: Bool, _ n: Bool) -> Bool { m && n }
  @inlinable @inline(__always) public static func either(_ m: Bool, _ n: Bool) -> Bool { m || n }
  @inlinable @inline(__always)
  public static func select(_ m: Bool, _ a: Double, _ b: Double) -> Double { m ? a : b }
  @inlinable @inline(__always) public func addingToBits(_ c: UInt64) -> Double {
    Double(bitPattern: bitPattern &+ c)
  }
  @inlinable @inline(__always) public func shiftingBitsLeft(_ n: UInt64) -> Double {
    Double(bitPattern: bitPattern &<< n)
  }
  @inlinable @inline(__always) public func shiftingBitsRight(_ n: UInt64) -> Double {
    Double(bitPattern: bitPattern &>> n)
  }
  @inlinable @inline(__always) public func andingBits(_ c: UInt64) -> Double {
    Double(bitPattern: bitPattern & c)
  }
  @inlinable @inline(__always) public func oringBits(_ c: UInt64) -> Double {
    Double(bitPattern: bitPattern | c)
  }
  @inlinable @inline(__always) public func oringBits(_ other: Double) -> Double {
    Double(bitPattern: bitPattern | other.bitPattern)
  }
}

// SIMD4 and SIMD8 are written out: one generic extension over both measured
// about 10× slower on 8 lanes (bilevelc-bench transcendentals), unspecialised.
extension SIMD4: MathLanes where Scalar == Double {
  public typealias Mask = SIMDMask<SIMD4<Int64>>
  @inlinable @inline(__always) public init(lanes value: Double) { self.init(repeating: value) }
  @inlinable @inline(__always) public static func less(_ a: Self, _ b: Self) -> Mask { a .< b }
  @inlinable @inline(__always)
  public static func lessOrEqual(_ a: Self, _ b: Self) -> Mask { a .<= b }
  @inlinable @inline(__always) public static func equal(_ a: Self, _ b: Self) -> Mask { a .== b }
  @inlinable @inline(__always) public static func both(_ m: Mask, _ n: Mask) -> Mask { m .& n }
  @inlinable @inline(__always) public static func either(_ m: Mask, _ n: Mask) -> Mask { m .| n }
  @inlinable @inline(__always)
  public static func select(_ m: Mask, _ a: Self, _ b: Self) -> Self {
    b.replacing(with: a, where: m)
  }
  @inlinable @inline(__always) var bits: SIMD4<UInt64> {
    unsafeBitCast(self, to: SIMD4<UInt64>.self)
  }
  @inlinable @inline(__always) init(bits: SIMD4<UInt64>) {
    self = unsafeBitCast(bits, to: Self.self)
  }
  @inlinable @inline(__always) public func addingToBits(_ c: UInt64) -> Self {
    Self(bits: bits &+ SIMD4<UInt64>(repeating: c))
  }
  @inlinable @inline(__always) public func shiftingBitsLeft(_ n: UInt64) -> Self {
    Self(bits: bits &<< SIMD4<UInt64>(repeating: n))
  }
  @inlinable @inline(__always) public func shiftingBitsRight(_ n: UInt64) -> Self {
    Self(bits: bits &>> SIMD4<UInt64>(repeating: n))
  }
  @inlinable @inline(__always) public func andingBits(_ c: UInt64) -> Self {
    Self(bits: bits & SIMD4<UInt64>(repeating: c))
  }
  @inlinable @inline(__always) public func oringBits(_ c: UInt64) -> Self {
    Self(bits: bits | SIMD4<UInt64>(repeating: c))
  }
  @inlinable @inline(__always) public func oringBits(_ other: Self) -> Self {
    Self(bits: bits | other.bits)
  }
}

extension SIMD8: MathLanes where Scalar == Double {
  public typealias Mask = SIMDMask<SIMD8<Int64>>
  @inlinable @inline(__always) public init(lanes value: Double) { self.init(repeating: value) }
  @inlinable @inline(__always) public static func less(_ a: Self, _ b: Self) -> Mask { a .< b }
  @inlinable @inline(__always)
  public static func lessOrEqual(_ a: Self, _ b: Self) -> Mask { a .<= b }
  @inlinable @inline(__always) public static func equal(_ a: Self, _ b: Self) -> Mask { a .== b }
  @inlinable @inline(__always) public static func both(_ m: Mask, _ n: Mask) -> Mask { m .& n }
  @inlinable @inline(__always) public static func either(_ m: Mask, _ n: Mask) -> Mask { m .| n }
  @inlinable @inline(__always)
  public static func select(_ m: Mask, _ a: Self, _ b: Self) -> Self {
    b.replacing(with: a, where: m)
  }
  @inlinable @inline(__always) var bits: SIMD8<UInt64> {
    unsafeBitCast(self, to: SIMD8<UInt64>.self)
  }
  @inlinable @inline(__always) init(bits: SIMD8<UInt64>) {
    self = unsafeBitCast(bits, to: Self.self)
  }
  @inlinable @inline(__always) public func addingToBits(_ c: UInt64) -> Self {
    Self(bits: bits &+ SIMD8<UInt64>(repeating: c))
  }
  @inlinable @inline(__always) public func shiftingBitsLeft(_ n: UInt64) -> Self {
    Self(bits: bits &<< SIMD8<UInt64>(repeating: n))
  }
  @inlinable @inline(__always) public func shiftingBitsRight(_ n: UInt64) -> Self {
    Self(bits: bits &>> SIMD8<UInt64>(repeating: n))
  }
  @inlinable @inline(__always) public func andingBits(_ c: UInt64) -> Self {
    Self(bits: bits & SIMD8<UInt64>(repeating: c))
  }
  @inlinable @inline(__always) public func oringBits(_ c: UInt64) -> Self {
    Self(bits: bits | SIMD8<UInt64>(repeating: c))
  }
  @inlinable @inline(__always) public func oringBits(_ other: Self) -> Self {
    Self(bits: bits | other.bits)
  }
}
