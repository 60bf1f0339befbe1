extension Parser {
  /// Pratt loop: parses operators that bind at least as tightly as `minimumPower`.
  mutating func parseExpression(_ minimumPower: Int = 1, depth: Int = 0) throws -> Expr {
    if depth > Parser.maximumDepth {
      throw fail(.nestedTooDeeply(Parser.maximumDepth), at: current.range)
    }
    var left: Expr
    if at(.minus) {
      let minus = advance()
      let operand = try parseExpression(OperatorTable.prefixPower + 1, depth: depth + 1)
      left = Expr(.negate(operand), minus.range.union(operand.range), depth: operand.depth + 1)
    } else {
      left = try parsePostfix(depth: depth)
    }
    while case .symbol(let s) = current.kind {
      if s == .star, peek(1).kind == .symbol(.star) {
        throw fail(.powerIsCaret, at: current.range.union(peek(1).range))
      }
      guard let (power, fixity, op) = OperatorTable.infix(s), power >= minimumPower else { break }
      let operatorToken = advance()
      if current.kind == .newline {
        skipContinuationLine = true
        throw fail(.trailingOperator(operatorToken.text), at: operatorToken.range)
      }
      // `^` takes a signed exponent and is right-associative: its right side
      // starts again at the prefix level.
      let rightPower = fixity == .rightInfix ? OperatorTable.prefixPower : power + 1
      let right = try parseExpression(rightPower, depth: depth + 1)
      let d = max(left.depth, right.depth) + 1
      if d > Parser.maximumDepth {
        throw fail(.nestedTooDeeply(Parser.maximumDepth), at: right.range)
      }
      left = Expr(.binary(op, left, right), left.range.union(right.range), depth: d)
    }
    return left
  }

  mutating func parsePostfix(depth: Int) throws -> Expr {
    var e = try parsePrimary(depth: depth)
    while true {
      if at(.quote) {
        let q = advance()
        e = Expr(.transpose(e), e.range.union(q.range), depth: e.depth + 1)
      } else if at(.leftBracket) {
        let (items, d) = try parseIndexItems(depth: depth)
        e = Expr(.index(e, items), range(from: e.range), depth: max(e.depth, d) + 1)
      } else if at(.leftParen) {
        throw fail(.callNeedsName, at: current.range)
      } else {
        return e
      }
      if e.depth > Parser.maximumDepth {
        throw fail(.nestedTooDeeply(Parser.maximumDepth), at: e.range)
      }
    }
  }

  mutating func parsePrimary(depth: Int) throws -> Expr {
    let t = current
    switch t.kind {
    case .number:
      _ = advance()
      let digits = String(t.text.filter { $0 != "_" })
      guard let v = Double(digits) else { throw fail(.malformedNumber(t.text), at: t.range) }
      guard v.isFinite else { throw fail(.numberOutOfRange(t.text), at: t.range) }
      let isInteger = !digits.contains(".") && !digits.contains("e") && !digits.contains("E")
      return Expr(.number(v, isInteger: isInteger), t.range, depth: 1)
    case .string:
      _ = advance()
      return Expr(.string(String(t.text.dropFirst().dropLast())), t.range, depth: 1)
    case .identifier:
      _ = advance()
      let name = Identifier(name: t.text, range: t.range)
      if at(.over) { return try parseOver(reduction: name, depth: depth) }
      if at(.leftParen) {
        let (args, d) = try parseArguments(depth: depth)
        return Expr(.call(callee: name, arguments: args), range(from: t.range), depth: d + 1)
      }
      return Expr(.name(t.text), t.range, depth: 1)
    case .keyword(let k) where Parser.keywordIsCall(k, next: peek(1)):
      // `outer(u, v)` and `solve(A, b)` are built-ins that share a keyword's spelling.
      _ = advance()
      let (args, d) = try parseArguments(depth: depth)
      let name = Identifier(name: t.text, range: t.range)
      return Expr(.call(callee: name, arguments: args), range(from: t.range), depth: d + 1)
    case .symbol(.leftParen):
      _ = advance()
      bracketDepth += 1
      skipContinuationNewlines()
      let inner = try parseExpression(1, depth: depth + 1)
      guard at(.rightParen) else {
        throw fail(
          .unclosed("(", opened: t.range.location, found: describe(current)), at: current.range)
      }
      bracketDepth -= 1
      _ = advance()
      return Expr(inner.kind, range(from: t.range), depth: inner.depth + 1)
    case .symbol(.leftBracket):
      return try parseArrayLiteral(depth: depth)
    case .keyword(.over):
      throw fail(.overNeedsReduction, at: t.range)
    default:
      throw fail(.expected("an expression", found: describe(t)), at: t.range)
    }
  }

  /// A keyword directly followed by `(` that names a built-in function.
  static func keywordIsCall(_ k: Keyword, next: Token) -> Bool {
    (k == .outer || k == .solve) && next.kind == .symbol(.leftParen)
  }

  /// `mean over t: body`; the body extends as far right as it can.
  mutating func parseOver(reduction: Identifier, depth: Int) throws -> Expr {
    _ = advance()
    let index = try expectIdentifier("a task index after 'over'")
    _ = try expect(.colon, "after 'over \(index.name)'")
    let body = try parseExpression(1, depth: depth + 1)
    return Expr(
      .over(reduction: reduction, index: index, body: body), reduction.range.union(body.range),
      depth: body.depth + 1)
  }

  /// `(a, b, label: c)` → arguments and the deepest argument's depth.
  mutating func parseArguments(depth: Int) throws -> ([Argument], Int) {
    let open = advance()
    bracketDepth += 1
    skipContinuationNewlines()
    var args: [Argument] = []
    var maxDepth = 0
    if !at(.rightParen) {
      repeat {
        var label: Identifier? = nil
        if current.kind == .identifier, peek(1).kind == .symbol(.colon) {
          let t = advance()
          label = Identifier(name: t.text, range: t.range)
          _ = advance()
        }
        let value = try parseExpression(1, depth: depth + 1)
        maxDepth = max(maxDepth, value.depth)
        args.append(Argument(label: label, value: value))
      } while eat(.comma)
    }
    guard at(.rightParen) else {
      throw fail(
        .unclosed("(", opened: open.range.location, found: describe(current)), at: current.range)
    }
    bracketDepth -= 1
    _ = advance()
    return (args, maxDepth)
  }

  mutating func parseIndexItems(depth: Int) throws -> (items: [IndexItem], depth: Int) {
    let open = advance()
    bracketDepth += 1
    skipContinuationNewlines()
    var items: [IndexItem] = []
    var maxDepth = 0
    repeat {
      let start = current.range
      var lower: Expr? = nil
      if !at(.colon) {
        let e = try parseExpression(1, depth: depth + 1)
        maxDepth = max(maxDepth, e.depth)
        lower = e
      }
      if eat(.colon) {
        var upper: Expr? = nil
        if !at(.comma) && !at(.rightBracket) {
          let e = try parseExpression(1, depth: depth + 1)
          maxDepth = max(maxDepth, e.depth)
          upper = e
        }
        let r = range(from: start)
        items.append(lower == nil && upper == nil ? .all(r) : .slice(lower: lower, upper: upper, r))
      } else if let lower {
        items.append(.at(lower))
      }
    } while eat(.comma)
    guard at(.rightBracket) else {
      throw fail(
        .unclosed("[", opened: open.range.location, found: describe(current)), at: current.range)
    }
    bracketDepth -= 1
    _ = advance()
    return (items, maxDepth)
  }

  mutating func parseArrayLiteral(depth: Int) throws -> Expr {
    let open = advance()
    bracketDepth += 1
    skipContinuationNewlines()
    var elements: [Expr] = []
    var maxDepth = 0
    if at(.rightBracket) { throw fail(.emptyArray, at: open.range.union(current.range)) }
    repeat {
      if at(.rightBracket) { break }  // a trailing comma is fine
      let e = try parseExpression(1, depth: depth + 1)
      maxDepth = max(maxDepth, e.depth)
      elements.append(e)
    } while eat(.comma)
    guard at(.rightBracket) else {
      throw fail(
        .unclosed("[", opened: open.range.location, found: describe(current)), at: current.range)
    }
    bracketDepth -= 1
    _ = advance()
    return Expr(.array(elements), range(from: open.range), depth: maxDepth + 1)
  }
}
