/// The expression operators by precedence, loosest first. The Pratt parser
/// reads its binding powers from here, and a test checks this table against
/// the precedence rules of `grammar/bilevel.ebnf`.
public enum OperatorTable {
  public enum Fixity: String, Sendable {
    case leftInfix = "left", rightInfix = "right", prefix, postfix
  }

  public struct Level: Sendable {
    /// The grammar rule that defines this level.
    public let rule: String
    public let operators: [String]
    public let fixity: Fixity
  }

  public static let levels: [Level] = [
    Level(rule: "sum", operators: ["+", "-"], fixity: .leftInfix),
    Level(rule: "product", operators: ["*", "/", "@"], fixity: .leftInfix),
    Level(rule: "unary", operators: ["-"], fixity: .prefix),
    Level(rule: "power", operators: ["^"], fixity: .rightInfix),
    Level(rule: "postfix", operators: ["'", "["], fixity: .postfix),
  ]

  /// Binding power of an infix operator: its level's index, 1-based.
  static func infix(_ symbol: Symbol) -> (power: Int, fixity: Fixity, op: BinaryOperator)? {
    for (i, level) in levels.enumerated()
    where level.fixity == .leftInfix || level.fixity == .rightInfix {
      if level.operators.contains(symbol.rawValue),
        let op = BinaryOperator(rawValue: symbol.rawValue)
      {
        return (i + 1, level.fixity, op)
      }
    }
    return nil
  }

  static var prefixPower: Int { levels.firstIndex { $0.fixity == .prefix }! + 1 }
}
