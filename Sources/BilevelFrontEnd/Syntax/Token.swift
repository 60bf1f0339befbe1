/// One lexical token. `text` is the exact source spelling.
public struct Token: Sendable {
  public enum Kind: Equatable, Sendable {
    case identifier
    case keyword(Keyword)
    case number
    case string
    case symbol(Symbol)
    case newline
    case end
    case invalid
  }

  public let kind: Kind
  public let range: SourceRange
  public var text: String { range.text }
}

/// Reserved words. Type names are keywords too, so `vector` can't be a variable.
public enum Keyword: String, CaseIterable, Sendable {
  case dim, data, outer, inner, `let`, def, loss, fixpoint, solve, with, hypergradient, tasks,
    report, batch, episodes, state, proxy
  case `in`, over, scalar, vector, matrix, then
}

public enum Symbol: String, CaseIterable, Sendable {
  case plus = "+", minus = "-", star = "*", slash = "/", at = "@", caret = "^"
  case quote = "'", leftParen = "(", rightParen = ")", leftBracket = "[", rightBracket = "]"
  case comma = ",", colon = ":", equals = "=", dotDot = ".."
}
