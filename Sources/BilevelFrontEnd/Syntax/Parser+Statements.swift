extension Parser {
  mutating func parseStatement() throws -> Statement {
    let start = current
    switch current.kind {
    case .keyword(.dim): return try parseDims()
    case .keyword(.tasks):
      _ = advance()
      let index = try expectIdentifier("a task index after 'tasks'")
      _ = try expect(.in, "after 'tasks \(index.name)' (as in 'tasks t in 1..5')")
      let lower = try parseExpression()
      if at(.colon) { throw fail(.taskRangeUsesDots, at: current.range) }
      _ = try expect(.dotDot, "in the task range (as in 'tasks t in 1..5')")
      let upper = try parseExpression()
      return finish(.tasks(index: index, lower: lower, upper: upper), start)
    case .keyword(.data):
      _ = advance()
      let name = try expectIdentifier("a name after 'data'")
      let task = try parseTaskSuffix()
      var type: TypeExpr? = nil
      // `data x := ...` is the walrus, not a missing type.
      if at(.colon), peek(1).kind != .symbol(.equals) {
        _ = advance()
        type = try parseType()
      }
      _ = try expectDefinitionEquals(name)
      let value = try parseExpression()
      return finish(.data(name: name, task: task, type: type, value: value), start)
    case .keyword(.inner), .keyword(.outer):
      return try parseLevelStatement()
    case .keyword(.let):
      _ = advance()
      let name = try expectIdentifier("a name after 'let'")
      let task = try parseTaskSuffix()
      _ = try expectDefinitionEquals(name)
      let value = try parseExpression()
      return finish(.letBinding(name: name, task: task, value: value), start)
    case .keyword(.def):
      _ = advance()
      let name = try expectIdentifier("a function name after 'def'")
      guard at(.leftParen) else {
        throw fail(
          .expected("'(' and the parameters of '\(name.name)'", found: describe(current)),
          at: current.range)
      }
      _ = advance()
      bracketDepth += 1
      skipContinuationNewlines()
      var parameters: [Identifier] = []
      if !at(.rightParen) {
        repeat { parameters.append(try expectIdentifier("a parameter name")) } while eat(.comma)
      }
      guard at(.rightParen) else {
        throw fail(
          .expected("')' after the parameters of '\(name.name)'", found: describe(current)),
          at: current.range)
      }
      bracketDepth -= 1
      _ = advance()
      _ = try expectDefinitionEquals(name)
      let value = try parseExpression()
      return finish(.function(name: name, parameters: parameters, body: value), start)
    case .keyword(.solve):
      _ = advance()
      let level: Level
      if eat(.inner) {
        level = .inner
      } else if eat(.outer) {
        level = .outer
      } else {
        throw fail(
          .expected("'inner' or 'outer' after 'solve'", found: describe(current)), at: current.range
        )
      }
      _ = try expect(.with, "after 'solve \(level.rawValue)'")
      let value = try parseSolverCall()
      return finish(.solve(level: level, value), start)
    case .keyword(.hypergradient):
      _ = advance()
      _ = try expect(.with, "after 'hypergradient'")
      let value = try parseSolverCall()
      return finish(.hypergradient(value), start)
    case .keyword(.state):
      _ = advance()
      let name = try expectIdentifier("a state name after 'state'")
      let task = try parseTaskSuffix()
      if at(.equals) { throw fail(.variableNeedsType(name.name, "state"), at: current.range) }
      _ = try expect(.colon, "and a type after 'state \(name.name)'")
      let type = try parseType()
      _ = try expectDefinitionEquals(name)
      let initial = try parseExpression()
      _ = try expect(
        .then,
        "and the state's next value after its initial value (as in 'state h: vector[d] = 0 then 0.9 * h + grad')"
      )
      let next = try parseExpression()
      return finish(
        .ruleState(name: name, task: task, type: type, initial: initial, next: next), start)
    case .keyword(.report):
      _ = advance()
      let name = try expectIdentifier("a name after 'report'")
      _ = try expectDefinitionEquals(name)
      let value = try parseExpression()
      return finish(.report(name: name, value: value), start)
    case .keyword(.batch):
      _ = advance()
      let name = try expectIdentifier("a name after 'batch'")
      _ = try expectDefinitionEquals(name)
      let value = try parseExpression()
      return finish(.batch(name: name, value: value), start)
    case .keyword(.episodes):
      _ = advance()
      let support = try expectIdentifier("the support set's name after 'episodes'")
      let task = try parseTaskSuffix()
      _ = try expect(.comma, "and the query set's name after the support set's")
      let query = try expectIdentifier("the query set's name")
      let queryTask = try parseTaskSuffix()
      if (task == nil) != (queryTask == nil) {
        throw fail(
          .expected("the same task suffix on both names", found: describe(current)),
          at: (queryTask ?? query).range)
      }
      _ = try expectDefinitionEquals(query)
      let value = try parseExpression()
      return finish(.episodes(support: support, query: query, task: task, value: value), start)
    case .keyword(.proxy):
      return try parseProxy()
    case .identifier:
      // `x = ...` or `var x = ...`: say which statement keywords exist.
      if peek(1).kind == .symbol(.equals) || peek(1).kind == .symbol(.colon) {
        throw fail(.statementNeedsKeyword(current.text), at: current.range)
      }
      if peek(1).kind == .identifier {
        throw fail(.unknownStatement(current.text), at: current.range)
      }
      throw fail(.expected("a statement", found: describe(current)), at: current.range)
    default:
      throw fail(.expected("a statement", found: describe(current)), at: current.range)
    }
  }

  /// Call it after parsing the statement's last part, not inside the call's
  /// arguments: `self` (and so the current token) is read before them.
  func finish(_ kind: Statement.Kind, _ start: Token) -> Statement {
    Statement(kind: kind, range: range(from: start.range), keywordRange: start.range)
  }

  mutating func expectDefinitionEquals(_ name: Identifier) throws -> Token {
    if at(.colon), peek(1).kind == .symbol(.equals) {
      throw fail(.walrus, at: current.range.union(peek(1).range))
    }
    return try expect(.equals, "after '\(name.name)'")
  }

  mutating func parseDims() throws -> Statement {
    let start = advance()
    var dims: [(name: Identifier, value: Expr)] = []
    repeat {
      let name = try expectIdentifier("a dimension name")
      _ = try expectDefinitionEquals(name)
      dims.append((name, try parseExpression()))
    } while eat(.comma)
    return finish(.dims(dims), start)
  }

  /// `[t]` after a declared name: one value per task.
  mutating func parseTaskSuffix() throws -> Identifier? {
    guard at(.leftBracket) else { return nil }
    _ = advance()
    let t = try expectIdentifier("the task index")
    _ = try expect(.rightBracket, "after the task index")
    return t
  }

  mutating func parseLevelStatement() throws -> Statement {
    let start = advance()
    let level: Level = start.kind == .keyword(.inner) ? .inner : .outer
    if eat(.loss) {
      let task = try parseTaskSuffix()
      _ = try expect(.equals, "after '\(level.rawValue) loss'")
      let value = try parseExpression()
      // `over trajectory`: the loss summed over the inner steps θ_1 … θ_T (survey eq. 12).
      var trajectory: TrajectoryClause? = nil
      if at(.over) {
        let over = advance()
        guard current.kind == .identifier, current.text == "trajectory" else {
          throw fail(
            .expected("'trajectory' after 'over'", found: describe(current)), at: current.range)
        }
        var end = advance().range.end
        if level == .inner { throw fail(.innerLossOverTrajectory, at: over.range) }
        var weights: Identifier? = nil
        if eat(.leftParen) {
          let label = try expectIdentifier("'weights' in 'over trajectory(weights: w)'")
          guard label.name == "weights" else {
            throw fail(
              .expected(
                "'weights' in 'over trajectory(weights: w)'", found: "name '\(label.name)'"),
              at: label.range)
          }
          _ = try expect(.colon, "after 'weights'")
          weights = try expectIdentifier("the data vector of the weights w_t")
          end = try expect(.rightParen, "after the weights").range.end
        }
        trajectory = TrajectoryClause(
          range: SourceRange(file: over.range.file, start: over.range.start, end: end),
          weights: weights)
      }
      return finish(.loss(level: level, task: task, value: value, trajectory: trajectory), start)
    }
    if at(.fixpoint) {
      if level == .outer { throw fail(.outerFixpoint, at: current.range) }
      _ = advance()
      let variable = try expectIdentifier("the fixpoint variable")
      let task = try parseTaskSuffix()
      _ = try expect(.equals, "after 'inner fixpoint \(variable.name)'")
      let value = try parseExpression()
      return finish(.fixpoint(variable: variable, task: task, value: value), start)
    }
    let name = try expectIdentifier("a variable name (or 'loss') after '\(level.rawValue)'")
    let task = try parseTaskSuffix()
    if at(.equals) {
      throw fail(.variableNeedsType(name.name, level.rawValue), at: current.range)
    }
    _ = try expect(.colon, "and a type after '\(level.rawValue) \(name.name)'")
    let type = try parseType()
    _ = try expectDefinitionEquals(name)
    let initial = try parseExpression()
    var bounds: (Expr, Expr)? = nil
    if eat(.in) {
      let open = try expect(.leftBracket, "to start the bounds '[lower, upper]'")
      bracketDepth += 1
      skipContinuationNewlines()
      let lower = try parseExpression()
      _ = try expect(.comma, "between the lower and upper bound")
      let upper = try parseExpression()
      guard at(.rightBracket) else {
        throw fail(
          .unclosed("[", opened: open.range.location, found: describe(current)), at: current.range)
      }
      bracketDepth -= 1
      _ = advance()
      bounds = (lower, upper)
    }
    return finish(
      .variable(level: level, name: name, task: task, type: type, initial: initial, bounds: bounds),
      start)
  }

  /// `proxy w = EXPR with params A: TYPE = INIT, b: TYPE = INIT`.
  mutating func parseProxy() throws -> Statement {
    let start = advance()
    let variable = try expectIdentifier("the inner variable after 'proxy'")
    _ = try expectDefinitionEquals(variable)
    let value = try parseExpression()
    var parameters: [ProxyParameter] = []
    if eat(.with) {
      guard current.kind == .identifier, current.text == "params" else {
        throw fail(
          .expected(
            "'params' after 'with' (as in 'with params A: matrix[d, m] = 0')",
            found: describe(current)), at: current.range)
      }
      _ = advance()
      var first = true
      repeat {
        // A list that ends a line with ',' continues on the next.
        if !first { while current.kind == .newline && index < tokens.count - 1 { index += 1 } }
        first = false
        let name = try expectIdentifier("a proxy parameter name")
        _ = try expect(.colon, "and a type after '\(name.name)'")
        let type = try parseType()
        _ = try expectDefinitionEquals(name)
        parameters.append(ProxyParameter(name: name, type: type, initial: try parseExpression()))
      } while eat(.comma)
    }
    return finish(.proxy(variable: variable, value: value, parameters: parameters), start)
  }

  mutating func parseType() throws -> TypeExpr {
    let start = current
    let kind: TypeExpr.Kind
    switch current.kind {
    case .keyword(.scalar): kind = .scalar
    case .keyword(.vector): kind = .vector
    case .keyword(.matrix): kind = .matrix
    default:
      throw fail(
        .expected("a type ('scalar', 'vector[n]' or 'matrix[m, n]')", found: describe(current)),
        at: current.range)
    }
    _ = advance()
    var sizes: [Expr] = []
    if kind != .scalar {
      if at(.leftParen) { throw fail(.typeSizesUseBrackets(kind.rawValue), at: current.range) }
      let open = try expect(.leftBracket, "and the size after '\(kind.rawValue)'")
      bracketDepth += 1
      skipContinuationNewlines()
      repeat { sizes.append(try parseExpression()) } while eat(.comma)
      guard at(.rightBracket) else {
        throw fail(
          .unclosed("[", opened: open.range.location, found: describe(current)), at: current.range)
      }
      bracketDepth -= 1
      _ = advance()
      let expected = kind == .vector ? 1 : 2
      if sizes.count != expected {
        throw fail(
          .typeArity(kind.rawValue, expected: expected, got: sizes.count),
          at: range(from: start.range))
      }
    }
    return TypeExpr(kind: kind, sizes: sizes, range: range(from: start.range))
  }

  mutating func parseSolverCall() throws -> SolverCall {
    // `fixpoint` is both a statement word and the fixpoint solver's name.
    let name: Identifier
    if at(.fixpoint) || at(.proxy) {
      let t = advance()
      name = Identifier(name: t.text, range: t.range)
    } else {
      name = try expectIdentifier("a solver or method name")
    }
    var args: [Argument] = []
    if at(.leftParen) { args = try parseArguments(depth: 0).0 }
    return SolverCall(name: name, arguments: args, range: range(from: name.range))
  }
}
