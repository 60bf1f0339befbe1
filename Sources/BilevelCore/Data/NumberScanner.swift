/// Reads one number from a byte range without building a String in the
/// common case, so a million-entry CSV file parses quickly.
///
/// Plain decimals whose significand fits in 53 bits and whose decimal
/// exponent is within ±22 are converted exactly (Clinger's fast path: both
/// factors are exact Doubles, so one IEEE multiply or divide rounds
/// correctly). Everything else falls back to Swift's `Double(String)`, so
/// the two paths always agree.
enum NumberScanner {
  enum Outcome: Equatable {
    case value(Double)
    case notANumber
    /// A finite literal beyond the Double range (such as `1e400`).
    case outOfRange
  }

  /// 10^0 ... 10^22, each exactly representable.
  private static let powersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
  ]

  static func scan(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Outcome {
    if let v = fastPath(bytes, range) { return .value(v) }
    return slowPath(UnsafeBufferPointer(rebasing: bytes[range]))
  }

  static func scan(_ text: String) -> Outcome {
    var text = text
    return text.withUTF8 { scan($0, 0..<$0.count) }
  }

  @inline(__always)
  private static func digit(_ c: UInt8) -> UInt64? {
    c >= 0x30 && c <= 0x39 ? UInt64(c &- 0x30) : nil
  }

  /// nil means "not a simple decimal": let the slow path decide.
  private static func fastPath(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Double?
  {
    var i = range.lowerBound
    let end = range.upperBound
    guard i < end else { return nil }
    var negative = false
    if bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
      negative = bytes[i] == UInt8(ascii: "-")
      i += 1
    }
    var significand: UInt64 = 0
    var significantDigits = 0
    var exponent = 0
    var sawDigit = false
    while i < end, let d = digit(bytes[i]) {
      sawDigit = true
      if significand != 0 || d != 0 {
        if significantDigits == 19 { return nil }
        significand = significand * 10 + d
        significantDigits += 1
      }
      i += 1
    }
    if i < end && bytes[i] == UInt8(ascii: ".") {
      i += 1
      while i < end, let d = digit(bytes[i]) {
        sawDigit = true
        exponent -= 1
        if significand != 0 || d != 0 {
          if significantDigits == 19 { return nil }
          significand = significand * 10 + d
          significantDigits += 1
        }
        i += 1
      }
    }
    guard sawDigit else { return nil }
    if i < end && (bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")) {
      i += 1
      var negativeExponent = false
      if i < end && (bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+")) {
        negativeExponent = bytes[i] == UInt8(ascii: "-")
        i += 1
      }
      var written = 0
      var sawExponentDigit = false
      while i < end, let d = digit(bytes[i]) {
        sawExponentDigit = true
        if written > 100_000 { return nil }
        written = written * 10 + Int(d)
        i += 1
      }
      guard sawExponentDigit else { return nil }
      exponent += negativeExponent ? -written : written
    }
    guard i == end else { return nil }
    if significand == 0 { return negative ? -0.0 : 0.0 }
    guard significand <= 1 << 53, exponent >= -22, exponent <= 22 else { return nil }
    var value = Double(significand)
    value = exponent >= 0 ? value * powersOfTen[exponent] : value / powersOfTen[-exponent]
    return negative ? -value : value
  }

  private static func slowPath(_ field: UnsafeBufferPointer<UInt8>) -> Outcome {
    var body = field[...]
    if let first = body.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
      body = body.dropFirst()
    }
    if matchesIgnoringCase(body, "nan") { return .value(.nan) }
    if matchesIgnoringCase(body, "inf") || matchesIgnoringCase(body, "infinity") {
      return .value(field.first == UInt8(ascii: "-") ? -.infinity : .infinity)
    }
    // Double(String) would also take "snan" and "nan(...)"; they carry payloads.
    if let c = body.first, c | 0x20 == UInt8(ascii: "n") || c | 0x20 == UInt8(ascii: "s") {
      return .notANumber
    }
    // Double(String) reads through a C string and would stop at a NUL byte.
    if field.contains(0) { return .notANumber }
    // Short fields become small (inline) strings: no heap allocation.
    guard let v = Double(String(decoding: field, as: UTF8.self)) else { return .notANumber }
    return v.isFinite ? .value(v) : .outOfRange
  }

  private static func matchesIgnoringCase(
    _ bytes: Slice<UnsafeBufferPointer<UInt8>>, _ word: StaticString
  ) -> Bool {
    guard bytes.count == word.utf8CodeUnitCount else { return false }
    return word.withUTF8Buffer { w in
      zip(bytes, w).allSatisfy { $0 | 0x20 == $1 }
    }
  }
}
