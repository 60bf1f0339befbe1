import Foundation

/// How text output prints an error or a residual (the check's tables, the
/// tight inner residual, a run's inner and linear-solve residuals): as the
/// power of ten that bounds it, `< 1e-7`, never as its digits. Below a floor
/// every figure, 0 included, prints as `< floor`. Such figures are mostly
/// rounding noise, and a numerically neutral kernel change (another
/// summation order, wider SIMD) moves noise by factors of 2 or more; golden
/// transcripts must not see that. `--json` and `--trace` keep full precision.
///
/// Thresholds: each floor sits at least a factor 2 (mostly a decade) above
/// the largest rounding noise of its kind in the samples, so noise prints
/// as the floor. A figure above its floor is mostly genuine (a truncated
/// unroll, an unconverged solve, finite differences' eps) and moves far less
/// than a factor 10 under rounding; it still flips between two bounds when
/// it sits within its rounding change of a power of ten, and so may a
/// singular system's residual, which is noise however large. Rare, not
/// impossible: powers of ten are the coarsest grid that still tells 1e-7
/// from 1e-11, and one significant digit would flip about nine times as often.
public struct ErrorFigure: Sendable {
  /// Figures below 10^floorExponent print as that bound.
  public let floorExponent: Int

  public init(floorExponent: Int) { self.floorExponent = floorExponent }

  /// Relative errors against central differences (h = 1e-3): the differences'
  /// own rounding error, ε·|F|/h amplified by the map, reaches 5e-9 in the
  /// samples. The check's tolerance is 1e-6, so a pass still shows its margin.
  public static let differences = ErrorFigure(floorExponent: -8)

  /// Relative errors between computations exact up to rounding (methods vs
  /// their reference), relative and absolute residuals: noise up to 2e-12.
  public static let rounding = ErrorFigure(floorExponent: -11)

  /// The plan against the reference evaluator, relative to max(1, |x|):
  /// reassociation alone, far below its long-standing 1e-12.
  public static let planAgreement = ErrorFigure(floorExponent: -12)

  /// The smallest k ≥ the floor with x < 10^k.
  public func exponent(_ x: Double) -> Int {
    guard x >= Self.tenTo(floorExponent) else { return floorExponent }
    var k = Self.decade(x)
    while x >= Self.tenTo(k) { k += 1 }
    while x < Self.tenTo(k - 1) { k -= 1 }
    return k
  }

  /// `< 1e-7`; nan and inf, which only failures show, as such.
  public func text(_ x: Double) -> String {
    if x.isNaN { return "nan" }
    if x.isInfinite { return "inf" }
    return "< " + Self.power(exponent(x))
  }

  /// `more than 1e-4`: the largest power of ten below x, for a figure printed
  /// because it is over a limit (no floor: such figures are never noise-small).
  public static func exceeding(_ x: Double) -> String {
    if x.isNaN { return "nan" }
    if x.isInfinite { return "inf" }
    guard x > 0 else { return "0" }
    var k = decade(x)
    while tenTo(k + 1) < x { k += 1 }
    while !(tenTo(k) < x) { k -= 1 }
    return "more than " + power(k)
  }

  /// `1e-7`, `1`, `1e5`: the spelling of tolerances and steps elsewhere.
  public static func power(_ k: Int) -> String { k == 0 ? "1" : "1e\(k)" }

  /// The double that `1e<k>` reads as, so a bound is compared against
  /// exactly the number it prints.
  static func tenTo(_ k: Int) -> Double { Double("1e\(k)")! }

  /// ⌊log10 x⌋ up to one either way (log rounds); callers correct it against tenTo.
  static func decade(_ x: Double) -> Int { Int(log10(x).rounded(.down)) }
}
