/// The one catalogue of diagnostic messages. Every stage builds its
/// diagnostics from here, so wording stays consistent and reviewable.
public struct Message: Sendable {
  public let text: String
  public init(_ text: String) { self.text = text }
}

// MARK: Lexical and syntax
extension Message {
  public static func unexpectedCharacter(_ c: String) -> Message {
    Message("unexpected character \(c)")
  }
  public static func malformedNumber(_ s: String) -> Message { Message("malformed number '\(s)'") }
  public static func numberOutOfRange(_ s: String) -> Message {
    Message("number '\(s)' is out of range for a 64-bit float")
  }
  public static let unterminatedString = Message(
    "unterminated string; strings end with '\"' on the same line")
  public static func expected(_ what: String, found: String) -> Message {
    Message("expected \(what), found \(found)")
  }
  public static func reservedWord(_ word: String, _ what: String) -> Message {
    Message("'\(word)' is a reserved word and cannot be used as \(what)")
  }
  public static func unclosed(_ bracket: String, opened: String, found: String) -> Message {
    let closing = bracket == "(" ? ")" : "]"
    return Message(
      "expected '\(closing)' to close the '\(bracket)' opened at \(opened), found \(found)")
  }
  public static func nestedTooDeeply(_ limit: Int) -> Message {
    Message("expression is nested too deeply (more than \(limit) levels)")
  }
  public static func trailingOperator(_ op: String) -> Message {
    Message(
      "expected an expression after '\(op)', found end of line; a statement ends with its line, so wrap a long expression in parentheses to continue it"
    )
  }
  public static let powerIsCaret = Message(
    "'**' is not an operator; write powers with '^', as in 'x^2'")
  public static let callNeedsName = Message("only named functions can be called, as in 'f(x)'")
  public static let overNeedsReduction = Message(
    "'over' needs a reduction before it, as in 'mean over t: ...'")
  public static let emptyArray = Message("an array literal needs at least one element")
  public static let taskRangeUsesDots = Message(
    "task ranges are written with '..', as in 'tasks t in 1..5'")
  public static let walrus = Message("':=' is not an operator; define names with '='")
  public static func statementNeedsKeyword(_ name: String) -> Message {
    Message(
      "a statement starts with a keyword: write 'let \(name) = ...', 'data \(name) = ...', 'inner \(name): ...' or 'outer \(name): ...'"
    )
  }
  public static func unknownStatement(_ word: String) -> Message {
    Message(
      "unknown statement '\(word)'; statements start with dim, data, inner, outer, let, def, tasks, solve or hypergradient"
    )
  }
  public static let outerFixpoint = Message(
    "only the inner problem can be a fixpoint ('inner fixpoint z = ...')")
  public static func variableNeedsType(_ name: String, _ level: String) -> Message {
    Message("variable '\(name)' needs a type, as in '\(level) \(name): vector[n] = 0'")
  }
  public static func typeSizesUseBrackets(_ kind: String) -> Message {
    Message(
      "sizes are written in brackets, as in '\(kind == "matrix" ? "matrix[m, n]" : "\(kind)[n]")'")
  }
  public static func typeArity(_ kind: String, expected: Int, got: Int) -> Message {
    Message("'\(kind)' takes \(expected) size\(expected == 1 ? "" : "s"), found \(got)")
  }
}
