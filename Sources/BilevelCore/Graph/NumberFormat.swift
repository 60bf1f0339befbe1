import Foundation

/// The one place doubles become text.
/// `formatNumber`: exact and shortest (round-trips), for constants in dumps.
/// `formatValue`: 6 significant digits, for computed results, so outputs do
/// not hinge on the last bits of a libm call.
/// Error and residual figures in text output go through `ErrorFigure`.
public func formatNumber(_ x: Double) -> String {
  if x.isNaN { return "nan" }
  if x.isInfinite { return x < 0 ? "-inf" : "inf" }
  if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
  return normaliseExponent("\(x)")
}

/// `1e-08` → `1e-8`, `1e+20` → `1e20`: one spelling on every platform.
func normaliseExponent(_ s: String) -> String {
  guard let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return s }
  let mantissa = s[..<e]
  guard let exponent = Int(s[s.index(after: e)...]) else { return s }
  return mantissa + "e" + String(exponent)
}

public func formatValue(_ x: Double) -> String { formatValue(x, significantDigits: 6) }

/// `significantDigits` nil: every digit a round trip needs (`formatNumber`).
public func formatValue(_ x: Double, significantDigits: Int?) -> String {
  guard let digits = significantDigits else { return formatNumber(x) }
  if x.isNaN { return "nan" }
  if x.isInfinite { return x < 0 ? "-inf" : "inf" }
  if x == 0 { return "0" }
  return normaliseExponent(String(format: "%.\(digits)g", x))
}
