import BilevelFrontEnd

extension Elaborator {
  /// `proxy w = EXPR with params A: TYPE = INIT, ...` (survey §4.2, eq. 33):
  /// θ ≈ P_α(φ) for one inner variable. The parameters α are inputs the
  /// proxy method trains; their names exist only inside the proxy's expression.
  mutating func elaborateProxy(
    variable: Identifier, value: Expr, parameters: [ProxyParameter], statement s: Statement,
    in model: ElaborationContext
  ) throws(Poisoned) {
    guard case .variable(let index)? = scope[variable.name],
      program.variables[index].level == .inner
    else {
      if case .poisoned? = scope[variable.name] { throw Poisoned() }
      throw error(.proxyNeedsInnerVariable(variable.name), at: variable.range)
    }
    if program.tasks != nil { throw error(.proxyWithTasks, at: s.keywordRange) }
    if let previous = program.proxies.first(where: { $0.variable == index }) {
      throw error(
        .duplicateStatement("the proxy for '\(variable.name)'"), at: s.keywordRange,
        notes: [.note(.previousDefinition, at: previous.range)])
    }
    var context = model.with(task: .none)
    var declared: [ProxyDeclaration.Parameter] = []
    for (i, p) in parameters.enumerated() {
      if let first = parameters[..<i].first(where: { $0.name.name == p.name.name }) {
        throw error(
          .duplicateDefinition(p.name.name), at: p.name.range,
          notes: [.note(.previousDefinition, at: first.name.range)])
      }
      if scope[p.name.name] != nil || Builtins.isBuiltin(p.name.name)
        || program.proxies.contains(where: { $0.parameters.contains { $0.name == p.name.name } })
      {
        throw error(.proxyParameterShadows(p.name.name), at: p.name.range)
      }
      let shape = try typeShape(p.type, in: model)
      var start = try expression(p.initial, in: model.with(task: .none).allowingDataSources())
      if !program.graph.variables(readBy: [start.node]).isEmpty {
        throw error(.proxyParameterStart(p.name.name), at: p.initial.range)
      }
      start = try conform(
        start, to: shape, what: "'\(p.name.name)'", declared: p.type, at: p.initial.range)
      program.inputs.append(InputEntry(name: "proxy_" + p.name.name, shape: shape, perTask: false))
      let input = program.inputs.count - 1
      let leaf = program.graph.make(.input(input), shape: shape)
      declared.append(
        ProxyDeclaration.Parameter(
          name: p.name.name, input: input, shape: shape, initial: start.node, range: p.name.range))
      context = context.binding(p.name.name, to: .letNode(leaf, perTask: false))
    }
    let v = try expression(value, in: context)
    let w = program.variables[index]
    let shape = program.graph.shape(v.node)
    if shape != w.shape {
      throw error(
        .proxyShape(w.name, variable: w.shape.description, proxy: shape.description),
        at: value.range)
    }
    for j in program.graph.variables(readBy: [v.node]) where program.variables[j].level == .inner {
      throw error(.proxyReadsInner(w.name, program.variables[j].name), at: value.range)
    }
    try refuseNonDifferentiable(v.node, in: "the proxy", at: value.range)
    program.proxies.append(
      ProxyDeclaration(variable: index, map: v.node, parameters: declared, range: s.range))
  }
}
