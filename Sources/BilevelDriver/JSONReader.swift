/// A strict JSON reader (RFC 8259) for `--resume`: integers without a
/// fraction or exponent read as `.int`, other numbers with `Double(String)`.
struct JSONReader {
  struct Failure: Error { let message: String }

  let bytes: [UInt8]
  var i = 0

  static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
    var r = JSONReader(bytes: bytes)
    let v = try r.value(depth: 0)
    r.skipSpace()
    guard r.i == bytes.count else { throw r.fail("text after the JSON value") }
    return v
  }

  func fail(_ what: String) -> Failure { Failure(message: "\(what) at byte \(i)") }

  mutating func skipSpace() {
    while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
  }

  mutating func literal(_ word: String, _ v: JSONValue) throws(Failure) -> JSONValue {
    let w = Array(word.utf8)
    guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else {
      throw fail("expected \(word)")
    }
    i += w.count
    return v
  }

  mutating func value(depth: Int) throws(Failure) -> JSONValue {
    guard depth < 64 else { throw fail("nesting too deep") }
    skipSpace()
    guard i < bytes.count else { throw fail("unexpected end") }
    switch bytes[i] {
    case UInt8(ascii: "n"): return try literal("null", .null)
    case UInt8(ascii: "t"): return try literal("true", .bool(true))
    case UInt8(ascii: "f"): return try literal("false", .bool(false))
    case UInt8(ascii: "\""): return .string(try string())
    case UInt8(ascii: "["):
      i += 1
      var items: [JSONValue] = []
      skipSpace()
      if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
      while true {
        items.append(try value(depth: depth + 1))
        skipSpace()
        guard i < bytes.count else { throw fail("unclosed array") }
        if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
        guard bytes[i] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
        i += 1
        return .array(items)
      }
    case UInt8(ascii: "{"):
      i += 1
      var fields: [(String, JSONValue)] = []
      skipSpace()
      if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(fields) }
      while true {
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
          throw fail("expected a field name")
        }
        let key = try string()
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
        i += 1
        fields.append((key, try value(depth: depth + 1)))
        skipSpace()
        guard i < bytes.count else { throw fail("unclosed object") }
        if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
        guard bytes[i] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
        i += 1
        return .object(fields)
      }
    default: return try number()
    }
  }

  mutating func number() throws(Failure) -> JSONValue {
    let start = i
    var integral = true
    while i < bytes.count, let c = Optional(bytes[i]),
      (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-")
        || c == UInt8(ascii: "+")
        || c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
    {
      if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
        integral = false
      }
      i += 1
    }
    let text = String(decoding: bytes[start..<i], as: UTF8.self)
    if integral, let n = Int(text) { return .int(n) }
    guard !text.isEmpty, let x = Double(text), x.isFinite else {
      i = start; throw fail("expected a value")
    }
    return .number(x)
  }

  mutating func string() throws(Failure) -> String {
    i += 1
    var scalars = String.UnicodeScalarView()
    var raw: [UInt8] = []
    func flush() {
      scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars);
      raw.removeAll()
    }
    while i < bytes.count {
      let c = bytes[i]
      if c == UInt8(ascii: "\"") {
        i += 1
        flush()
        return String(scalars)
      }
      if c == UInt8(ascii: "\\") {
        guard i + 1 < bytes.count else { break }
        flush()
        let e = bytes[i + 1]
        i += 2
        switch e {
        case UInt8(ascii: "n"): scalars.append("\n")
        case UInt8(ascii: "t"): scalars.append("\t")
        case UInt8(ascii: "r"): scalars.append("\r")
        case UInt8(ascii: "b"): scalars.append("\u{8}")
        case UInt8(ascii: "f"): scalars.append("\u{C}")
        case UInt8(ascii: "u"):
          guard i + 4 <= bytes.count,
            let v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16),
            let s = Unicode.Scalar(v)
          else { throw fail("bad \\u escape") }
          scalars.append(s)
          i += 4
        default: scalars.append(Unicode.Scalar(e))
        }
        continue
      }
      raw.append(c)
      i += 1
    }
    throw fail("unclosed string")
  }
}
