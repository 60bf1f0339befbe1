/// JSON as a value: written by RunRecords, read back by `--resume`. Numbers
/// are written in Swift's shortest round-trip form and read with
/// `Double(String)`, so a double survives a write and a read bit for bit
/// (Foundation's reader may round the last digit).
indirect enum JSONValue: Equatable {
  case null
  case bool(Bool)
  case int(Int)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([(String, JSONValue)])

  static func == (a: JSONValue, b: JSONValue) -> Bool { a.rendered() == b.rendered() }

  /// Non-finite numbers have no JSON form: null.
  static func double(_ x: Double) -> JSONValue { x.isFinite ? .number(x) : .null }
  static func doubles(_ xs: [Double]) -> JSONValue { .array(xs.map(double)) }
  static func optional(_ x: Double?) -> JSONValue { x.map(double) ?? .null }

  subscript(key: String) -> JSONValue? {
    guard case .object(let fields) = self else { return nil }
    return fields.first { $0.0 == key }?.1
  }

  var doubleValue: Double? {
    switch self {
    case .number(let x): return x
    case .int(let i): return Double(i)
    default: return nil
    }
  }
  var intValue: Int? { if case .int(let i) = self { return i }; return nil }
  var stringValue: String? { if case .string(let s) = self { return s }; return nil }
  var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
  var doublesValue: [Double]? {
    guard let a = arrayValue else { return nil }
    let xs = a.compactMap(\.doubleValue)
    return xs.count == a.count ? xs : nil
  }

  /// Objects one field a line; arrays of scalars on one line.
  func rendered(indent: String = "") -> String {
    switch self {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return "\(i)"
    case .number(let x): return "\(x)"
    case .string(let s): return JSONValue.quote(s)
    case .array(let items):
      if items.allSatisfy({
        if case .array = $0 { return false }; if case .object = $0 { return false }; return true
      }) {
        return "[" + items.map { $0.rendered() }.joined(separator: ", ") + "]"
      }
      let inner = indent + "  "
      return "[\n" + items.map { inner + $0.rendered(indent: inner) }.joined(separator: ",\n")
        + "\n\(indent)]"
    case .object(let fields):
      if fields.isEmpty { return "{}" }
      let inner = indent + "  "
      return "{\n"
        + fields.map { inner + JSONValue.quote($0.0) + ": " + $0.1.rendered(indent: inner) }.joined(
          separator: ",\n") + "\n\(indent)}"
    }
  }

  static func quote(_ s: String) -> String {
    var out = "\""
    for c in s.unicodeScalars {
      switch c {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      default:
        if c.value < 0x20 {
          let hex = String(c.value, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          out.unicodeScalars.append(c)
        }
      }
    }
    return out + "\""
  }
}
