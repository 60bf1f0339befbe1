/// The header of an .npy file is a Python dict literal such as
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`. This reads
/// the small subset of Python literals that can appear there (strings,
/// integers, booleans, None, tuples, lists, dicts), with any spacing and
/// trailing commas, and never traps on malformed input.
struct NPYHeader {
  let descr: PyLiteral
  let fortranOrder: Bool
  let shape: [Int]

  static func parse(_ bytes: ArraySlice<UInt8>) -> Result<NPYHeader, NPYError> {
    var parser = PyLiteralParser(bytes: bytes)
    let dict: [(String, PyLiteral)]
    do {
      guard case .dict(let entries) = try parser.value(depth: 0) else {
        return .failure(NPYError("malformed header: expected a dict"))
      }
      try parser.expectEnd()
      dict = entries
    } catch {
      return .failure(error)
    }
    func lookup(_ key: String) -> PyLiteral? { dict.last { $0.0 == key }?.1 }

    guard let descr = lookup("descr") else { return .failure(NPYError("header has no 'descr'")) }
    guard case .bool(let fortran)? = lookup("fortran_order") else {
      return .failure(NPYError("header has no boolean 'fortran_order'"))
    }
    guard case .sequence(let dims)? = lookup("shape") else {
      return .failure(NPYError("header has no 'shape' tuple"))
    }
    var shape: [Int] = []
    for dim in dims {
      guard case .int(let n) = dim else {
        return .failure(NPYError("shape entries must be integers"))
      }
      guard n >= 0 else { return .failure(NPYError("shape has a negative size \(n)")) }
      shape.append(n)
    }
    return .success(NPYHeader(descr: descr, fortranOrder: fortran, shape: shape))
  }
}

/// A Python literal value, as far as .npy headers need.
indirect enum PyLiteral {
  case string(String)
  case int(Int)
  case bool(Bool)
  case none
  /// A tuple or a list.
  case sequence([PyLiteral])
  case dict([(String, PyLiteral)])
}

/// A recursive-descent reader over the header bytes. Depth is capped so a
/// header of ten thousand '(' cannot overflow the stack.
private struct PyLiteralParser {
  let bytes: ArraySlice<UInt8>
  var i: Int
  static let maxDepth = 16

  init(bytes: ArraySlice<UInt8>) {
    self.bytes = bytes
    self.i = bytes.startIndex
  }

  func fail(_ what: String) -> NPYError { NPYError("malformed header: \(what)") }

  mutating func skipSpace() {
    while i < bytes.endIndex {
      let c = bytes[i]
      guard c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x00 else { return }
      i += 1
    }
  }

  /// Consumes `c` (after spaces) if it is next.
  mutating func take(_ c: UInt8) -> Bool {
    skipSpace()
    if i < bytes.endIndex && bytes[i] == c { i += 1; return true }
    return false
  }

  mutating func expectEnd() throws(NPYError) {
    skipSpace()
    if i != bytes.endIndex { throw fail("unexpected text after the dict") }
  }

  mutating func value(depth: Int) throws(NPYError) -> PyLiteral {
    guard depth < Self.maxDepth else { throw fail("nested too deeply") }
    skipSpace()
    guard i < bytes.endIndex else { throw fail("unexpected end") }
    let c = bytes[i]
    switch c {
    case UInt8(ascii: "'"), UInt8(ascii: "\""):
      return .string(try string())
    case UInt8(ascii: "("):
      i += 1
      return .sequence(try items(closing: UInt8(ascii: ")"), depth: depth))
    case UInt8(ascii: "["):
      i += 1
      return .sequence(try items(closing: UInt8(ascii: "]"), depth: depth))
    case UInt8(ascii: "{"):
      i += 1
      return try dict(depth: depth)
    case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      return .int(try integer())
    default:
      let start = i
      while i < bytes.endIndex, isIdentifierByte(bytes[i]) { i += 1 }
      let word = String(decoding: bytes[start..<i], as: UTF8.self)
      switch word {
      case "True": return .bool(true)
      case "False": return .bool(false)
      case "None": return .none
      case "": throw fail("unexpected character at header offset \(start - bytes.startIndex)")
      default: throw fail("unexpected '\(word)'")
      }
    }
  }

  func isIdentifierByte(_ c: UInt8) -> Bool {
    (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || (c >= 0x30 && c <= 0x39)
  }

  /// Items of a tuple or list up to `closing`; trailing commas allowed.
  mutating func items(closing: UInt8, depth: Int) throws(NPYError) -> [PyLiteral] {
    var result: [PyLiteral] = []
    while true {
      if take(closing) { return result }
      result.append(try value(depth: depth + 1))
      if take(closing) { return result }
      guard take(UInt8(ascii: ",")) else { throw fail("expected ',' between items") }
    }
  }

  mutating func dict(depth: Int) throws(NPYError) -> PyLiteral {
    var entries: [(String, PyLiteral)] = []
    while true {
      if take(UInt8(ascii: "}")) { return .dict(entries) }
      guard case .string(let key) = try value(depth: depth + 1) else {
        throw fail("dict keys must be strings")
      }
      guard take(UInt8(ascii: ":")) else { throw fail("expected ':' after '\(key)'") }
      entries.append((key, try value(depth: depth + 1)))
      if take(UInt8(ascii: "}")) { return .dict(entries) }
      guard take(UInt8(ascii: ",")) else { throw fail("expected ',' between entries") }
    }
  }

  /// A quoted string; a backslash keeps the next byte literally.
  mutating func string() throws(NPYError) -> String {
    let quote = bytes[i]
    i += 1
    var text: [UInt8] = []
    while i < bytes.endIndex {
      let c = bytes[i]
      i += 1
      if c == quote { return String(decoding: text, as: UTF8.self) }
      if c == UInt8(ascii: "\\") {
        guard i < bytes.endIndex else { break }
        text.append(bytes[i])
        i += 1
      } else {
        text.append(c)
      }
    }
    throw fail("unterminated string")
  }

  /// A decimal integer; Python 2 headers may end one with 'L'.
  mutating func integer() throws(NPYError) -> Int {
    var negative = false
    if bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
      negative = bytes[i] == UInt8(ascii: "-")
      i += 1
    }
    var value = 0
    var sawDigit = false
    while i < bytes.endIndex, bytes[i] >= 0x30, bytes[i] <= 0x39 {
      let (m, o1) = value.multipliedReportingOverflow(by: 10)
      let (s, o2) = m.addingReportingOverflow(Int(bytes[i] - 0x30))
      if o1 || o2 { throw fail("integer too large") }
      value = s
      sawDigit = true
      i += 1
    }
    guard sawDigit else { throw fail("expected digits") }
    if i < bytes.endIndex, bytes[i] == UInt8(ascii: "L") || bytes[i] == UInt8(ascii: "l") { i += 1 }
    return negative ? -value : value
  }
}
