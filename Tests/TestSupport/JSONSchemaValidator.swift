import Foundation

/// JSON, read independently of the driver's reader: integers (no fraction,
/// no exponent) stay apart from other numbers, as JSON Schema's "integer" needs.
public indirect enum JSONTree: Equatable, Sendable {
  case null, bool(Bool), integer(Int), number(Double), string(String)
  case array([JSONTree])
  case object([String: JSONTree])

  public struct Failure: Error, CustomStringConvertible { public let description: String }

  public static func parse(_ text: String) throws -> JSONTree {
    var p = Parser(chars: Array(text.unicodeScalars))
    let v = try p.value()
    p.space()
    guard p.i == p.chars.count else { throw Failure(description: "text after the value at \(p.i)") }
    return v
  }

  struct Parser {
    let chars: [Unicode.Scalar]
    var i = 0

    mutating func space() {
      while i < chars.count, " \t\n\r".unicodeScalars.contains(chars[i]) { i += 1 }
    }

    mutating func expect(_ word: String) throws {
      for c in word.unicodeScalars {
        guard i < chars.count, chars[i] == c else {
          throw Failure(description: "expected \(word) at \(i)")
        }
        i += 1
      }
    }

    mutating func value() throws -> JSONTree {
      space()
      guard i < chars.count else { throw Failure(description: "unexpected end") }
      switch chars[i] {
      case "n": try expect("null"); return .null
      case "t": try expect("true"); return .bool(true)
      case "f": try expect("false"); return .bool(false)
      case "\"": return .string(try string())
      case "[":
        i += 1
        var items: [JSONTree] = []
        space()
        if i < chars.count, chars[i] == "]" { i += 1; return .array(items) }
        while true {
          items.append(try value())
          space()
          if i < chars.count, chars[i] == "," { i += 1; continue }
          try expect("]")
          return .array(items)
        }
      case "{":
        i += 1
        var fields: [String: JSONTree] = [:]
        space()
        if i < chars.count, chars[i] == "}" { i += 1; return .object(fields) }
        while true {
          space()
          let key = try string()
          space()
          try expect(":")
          guard fields[key] == nil else { throw Failure(description: "duplicate key \(key)") }
          fields[key] = try value()
          space()
          if i < chars.count, chars[i] == "," { i += 1; continue }
          try expect("}")
          return .object(fields)
        }
      default: return try number()
      }
    }

    mutating func string() throws -> String {
      try expect("\"")
      var out = String.UnicodeScalarView()
      while i < chars.count, chars[i] != "\"" {
        if chars[i] == "\\" {
          i += 1
          guard i < chars.count else { break }
          switch chars[i] {
          case "n": out.append("\n")
          case "t": out.append("\t")
          case "r": out.append("\r")
          case "b": out.append("\u{8}")
          case "f": out.append("\u{c}")
          case "u":
            let hex = String(String.UnicodeScalarView(chars[(i + 1)..<min(chars.count, i + 5)]))
            guard let code = UInt32(hex, radix: 16), let s = Unicode.Scalar(code) else {
              throw Failure(description: "bad \\u at \(i)")
            }
            out.append(s)
            i += 4
          default: out.append(chars[i])
          }
        } else {
          out.append(chars[i])
        }
        i += 1
      }
      try expect("\"")
      return String(out)
    }

    mutating func number() throws -> JSONTree {
      let start = i
      while i < chars.count, "+-0123456789.eE".unicodeScalars.contains(chars[i]) { i += 1 }
      let text = String(String.UnicodeScalarView(chars[start..<i]))
      if let n = Int(text) { return .integer(n) }
      guard let x = Double(text) else {
        throw Failure(description: "bad number '\(text)' at \(start)")
      }
      return .number(x)
    }
  }
}

/// Checks a value against the subset of JSON Schema that
/// grammar/result.schema.json uses: type, enum, required, properties,
/// additionalProperties, items, oneOf and local $ref (#/$defs/NAME).
/// Returns one line per violation, each with its JSON path.
public struct JSONSchemaValidator {
  let root: JSONTree

  public init(schema: JSONTree) { root = schema }

  /// Keywords this validator understands; a schema using another fails.
  static let known: Set<String> = [
    "$schema", "$id", "$defs", "$ref", "title", "description", "type", "enum", "required",
    "properties", "additionalProperties", "items", "oneOf",
  ]

  public func validate(_ value: JSONTree) -> [String] { check(value, against: root, path: "$") }

  func check(_ value: JSONTree, against schema: JSONTree, path: String) -> [String] {
    guard case .object(let s) = schema else { return ["\(path): the schema is not an object"] }
    if let unknown = s.keys.first(where: { !Self.known.contains($0) }) {
      return ["\(path): unsupported keyword \(unknown)"]
    }
    var errors: [String] = []
    if case .string(let ref)? = s["$ref"] {
      guard ref.hasPrefix("#/$defs/"), case .object(let defs)? = object(root)["$defs"],
        let target = defs[String(ref.dropFirst(8))]
      else { return ["\(path): unresolved $ref \(ref)"] }
      errors += check(value, against: target, path: path)
    }
    if let t = s["type"] {
      let names: [String]
      switch t {
      case .string(let n): names = [n]
      case .array(let ns):
        names = ns.compactMap { if case .string(let n) = $0 { return n } else { return nil } }
      default: return ["\(path): bad type keyword"]
      }
      if !names.contains(where: { Self.matches(value, type: $0) }) {
        return errors + [
          "\(path): expected \(names.joined(separator: " or ")), found \(Self.typeName(value))"
        ]
      }
    }
    if case .array(let allowed)? = s["enum"], !allowed.contains(value) {
      errors.append("\(path): \(value) is not one of \(allowed)")
    }
    if case .object(let fields) = value {
      if case .array(let required)? = s["required"] {
        for case .string(let key) in required where fields[key] == nil {
          errors.append("\(path): missing \(key)")
        }
      }
      let properties = object(s["properties"] ?? .object([:]))
      for (key, v) in fields.sorted(by: { $0.key < $1.key }) {
        if let p = properties[key] {
          errors += check(v, against: p, path: "\(path).\(key)")
        } else if let extra = s["additionalProperties"] {
          if extra == .bool(false) {
            errors.append("\(path): unexpected property \(key)")
          } else if extra != .bool(true) {
            errors += check(v, against: extra, path: "\(path).\(key)")
          }
        }
      }
    }
    if case .array(let items) = value, let itemSchema = s["items"] {
      for (k, v) in items.enumerated() {
        errors += check(v, against: itemSchema, path: "\(path)[\(k)]")
      }
    }
    if case .array(let options)? = s["oneOf"] {
      let passing = options.filter { check(value, against: $0, path: path).isEmpty }.count
      if passing != 1 {
        let why = options.map { check(value, against: $0, path: path).first ?? "matches" }
        errors.append(
          "\(path): matches \(passing) of the oneOf schemas, not exactly one (\(why.joined(separator: "; ")))"
        )
      }
    }
    return errors
  }

  func object(_ v: JSONTree) -> [String: JSONTree] {
    if case .object(let o) = v { return o } else { return [:] }
  }

  static func matches(_ v: JSONTree, type: String) -> Bool {
    switch (type, v) {
    case ("null", .null), ("boolean", .bool), ("integer", .integer), ("number", .integer),
      ("number", .number),
      ("string", .string), ("array", .array), ("object", .object):
      return true
    default: return false
    }
  }

  static func typeName(_ v: JSONTree) -> String {
    switch v {
    case .null: return "null"
    case .bool: return "boolean"
    case .integer: return "integer"
    case .number: return "number"
    case .string: return "string"
    case .array: return "array"
    case .object: return "object"
    }
  }
}
