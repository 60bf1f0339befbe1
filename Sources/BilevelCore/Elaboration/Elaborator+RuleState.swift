import BilevelFrontEnd

/// A `state` statement as declared: its shape and start are checked at once,
/// its next value with the rule's update (where 'grad' is bound).
struct PendingState {
  let name: Identifier
  let type: TypeExpr
  let shape: Shape
  let perTask: Bool
  let initial: NodeID
  let next: Expr
  var elaborated = false
}

extension Elaborator {
  /// `state h: TYPE = INIT then NEXT`: per coordinate of the one inner
  /// variable (its shape, or one row per coordinate of a vector), started
  /// from data, one per task when the inner variable is.
  mutating func declareRuleState(
    name: Identifier, task: Identifier?, type: TypeExpr, initial: Expr, next: Expr,
    in model: ElaborationContext
  ) throws(Poisoned) {
    try checkTaskSuffix(task)
    let inner = program.variables(.inner)
    guard let first = inner.first else { throw error(.ruleNeedsOneInnerVariable, at: name.range) }
    let w = program.variables[first]
    if w.perTask != (task != nil) {
      throw error(.stateTaskSuffix(name.name, w.name, perTask: w.perTask), at: name.range)
    }
    let shape = try typeShape(type, in: model)
    let perCoordinate =
      shape == w.shape || (w.shape.isVector && shape.isMatrix && shape.rows == w.shape.rows)
    if !perCoordinate {
      throw error(
        .stateShape(
          name.name, shape.description, w.name, w.shape.description, rows: w.shape.count),
        at: type.range)
    }
    let start = model.with(task: task != nil ? .template : .none).allowingDataSources()
    var value = try expression(initial, in: start)
    value = try conform(
      value, to: shape, what: "'\(name.name)'", declared: type, at: initial.range)
    if let j = program.graph.variables(readBy: [value.node]).first {
      throw error(
        .initialUsesVariable(
          name.name, program.variables[j].name, "a rule's state starts from constants and data"),
        at: initial.range)
    }
    pendingStates.append(
      PendingState(
        name: name, type: type, shape: shape, perTask: task != nil, initial: value.node, next: next)
    )
    scope[name.name] = .ruleState(pendingStates.count - 1)
  }

  /// The rule's update context with every state bound: each state's next
  /// value is elaborated in declaration order, reading the states above it
  /// at their new values and itself and those below at their previous ones;
  /// the update then reads every state's new value.
  mutating func ruleStates(
    in context: ElaborationContext, variable w: Variable
  ) throws(Poisoned) -> ElaborationContext {
    var context = context
    var previous: [Int] = []
    for k in pendingStates.indices {
      let s = pendingStates[k]
      program.inputs.append(
        InputEntry(name: "state_\(s.name.name)", shape: s.shape, perTask: w.perTask))
      previous.append(program.inputs.count - 1)
      let leaf = program.graph.make(.input(program.inputs.count - 1), shape: s.shape)
      context = context.binding(s.name.name, to: .letNode(leaf, perTask: w.perTask))
    }
    for k in pendingStates.indices {
      let s = pendingStates[k]
      pendingStates[k].elaborated = true
      var v = try expression(s.next, in: context)
      v = try conform(
        v, to: s.shape, what: "the next value of '\(s.name.name)'", declared: s.type,
        at: s.next.range)
      try refuseNonDifferentiable(v.node, in: "a rule's state", at: s.next.range)
      program.ruleStates.append(
        RuleState(
          name: s.name.name, shape: s.shape, perTask: s.perTask, initial: s.initial,
          previous: previous[k], next: v.node, range: s.name.range))
      context = context.binding(s.name.name, to: .letNode(v.node, perTask: w.perTask))
    }
    return context
  }

  /// States declared with no rule to carry them (or after its 'solve' statement).
  mutating func checkRuleStates() {
    for s in pendingStates where !s.elaborated {
      diagnostics.append(.error(.stateNeedsRule(s.name.name), at: s.name.range))
    }
  }
}
