import BilevelFrontEnd

extension Elaborator {
  /// `solve inner with ...`: checked against the catalogue and bound to its typed spec.
  mutating func innerSolverStatement(
    _ call: SolverCall, in model: ElaborationContext
  ) throws(Poisoned) -> SolverStatement<InnerSolverSpec<NodeID>> {
    let (schema, values) = try boundSettings(call, role: .inner, in: model)
    guard case .inner(let kind) = schema.kind else { preconditionFailure("an inner-solver schema") }
    let spec = InnerSolverSpec(kind, SettingValues(schema: schema, values: values))
    program.innerStart = InnerStart(kind, SettingValues(schema: schema, values: values))
    program.innerControls = StepControls(SettingValues(schema: schema, values: values))
    if spec.fixedSteps != nil, schema.settings.contains(where: { $0.name == "max_steps" }) {
      let written = Set(values.map(\.name))
      if written.contains("steps") == written.contains("max_steps") {
        throw error(
          .stepsOrMaxSteps(schema.name, both: written.contains("steps")), at: call.range)
      }
      if written.contains("tol") != written.contains("max_steps") {
        throw error(.toleranceWithMaxSteps(schema.name), at: call.range)
      }
    }
    return SolverStatement(spec: spec, name: schema.name, settings: values, range: call.range)
  }

  mutating func outerSolverStatement(
    _ call: SolverCall, in model: ElaborationContext
  ) throws(Poisoned) -> SolverStatement<OuterSolverSpec> {
    let (schema, values) = try boundSettings(call, role: .outer, in: model)
    guard case .outer(let kind) = schema.kind else { preconditionFailure("an outer-solver schema") }
    let spec = OuterSolverSpec(kind, SettingValues(schema: schema, values: values))
    program.outerControls = StepControls(SettingValues(schema: schema, values: values))
    return SolverStatement(spec: spec, name: schema.name, settings: values, range: call.range)
  }

  mutating func methodStatement(
    _ call: SolverCall, in model: ElaborationContext
  ) throws(Poisoned) -> SolverStatement<MethodChoice> {
    let (schema, values) = try boundSettings(call, role: .method, in: model)
    guard case .method(let kind) = schema.kind else { preconditionFailure("a method schema") }
    let spec = MethodChoice(kind, SettingValues(schema: schema, values: values))
    if case .evograd(let k, _, _, _, _, let name?)? = spec.method {
      let shape = program.data.first { $0.name == name }!.shape
      let d = program.size(.inner)
      if shape != Shape([k, d]) {
        let at = call.arguments.first { $0.label?.name == "draws" }?.value.range ?? call.range
        throw error(
          .drawsShape(
            name, samples: k, inner: d, expected: Shape([k, d]).description,
            actual: shape.description), at: at)
      }
    }
    return SolverStatement(spec: spec, name: schema.name, settings: values, range: call.range)
  }

  /// A choice setting that may name a data matrix (evograd's `draws: E`).
  mutating func drawsData(_ name: String, what: String, at range: SourceRange) throws(Poisoned) {
    guard case .data(let i)? = scope[name], program.data[i].shape.rank == 2,
      !program.data[i].perTask
    else {
      if case .poisoned? = scope[name] { throw Poisoned() }
      throw error(.drawsNotData(name, what), at: range)
    }
  }

  /// Checks a solver call against the catalogue, then elaborates each value
  /// by its kind, defaults included. Inner-solver expressions may use outer
  /// variables and data.
  mutating func boundSettings(
    _ call: SolverCall, role: SolverRole, in model: ElaborationContext
  ) throws(Poisoned)
    -> (SolverSchema, [(name: String, value: SettingValue)])
  {
    let bound: BoundSolverCall
    switch SolverBinder.bind(call, role: role) {
    case .success(let b): bound = b
    case .failure(let f):
      diagnostics.append(contentsOf: f.diagnostics)
      throw Poisoned()
    }
    var settings: [(name: String, value: SettingValue)] = []
    var failed = false
    for s in bound.settings {
      // An optional setting without a default (unroll's checkpoints) is simply absent.
      if s.value == nil && s.schema.defaultValue == nil && s.schema.defaultChoice == nil {
        continue
      }
      do {
        settings.append(
          (
            s.name,
            try settingValue(s, role: role, solver: call.name.name, at: call.range, in: model)
          ))
      } catch {
        failed = true
      }
    }
    if failed { throw Poisoned() }
    return (bound.schema, settings)
  }

  mutating func settingValue(
    _ s: BoundSetting, role: SolverRole, solver: String, at range: SourceRange,
    in model: ElaborationContext
  ) throws(Poisoned) -> SettingValue {
    let what = "setting '\(s.name)' of '\(solver)'"
    switch s.schema.kind {
    case .choice(let options):
      if let e = s.value, case .name(let v) = e.kind {
        if !options.contains(v) { try drawsData(v, what: what, at: e.range) }
        return .symbol(v)
      }
      return .symbol(s.schema.defaultChoice!)
    case .count:
      guard let e = s.value else { return .integer(Int(s.schema.defaultValue!)) }
      return .integer(try integer(e, what: what, positive: true, in: model))
    case .real:
      guard let e = s.value else { return .real(s.schema.defaultValue!) }
      let x = try real(e, what: what, in: model)
      if !x.isFinite { throw error(.notCompileTime(what), at: e.range) }
      if !s.schema.range.contains(x) {
        throw error(
          .settingOutOfRange(what, formatNumber(x), range: s.schema.range.description), at: e.range)
      }
      return .real(x)
    case .expression, .update:
      guard let e = s.value else {
        return .expression(program.graph.constant(s.schema.defaultValue!))
      }
      // A learned rule's update is per entry of its one inner variable, may
      // read it and 'grad' (its gradient), and varies by task as they do.
      let isUpdate = s.schema.kind == .update
      let inner = program.variables.indices.filter { program.variables[$0].level == .inner }
      var context = model
      if isUpdate {
        guard inner.count == 1 else { throw error(.ruleNeedsOneInnerVariable, at: e.range) }
        let w = program.variables[inner[0]]
        program.inputs.append(InputEntry(name: "grad", shape: w.shape, perTask: w.perTask))
        program.ruleGradientInput = program.inputs.count - 1
        let grad = program.graph.make(.input(program.inputs.count - 1), shape: w.shape)
        // In a program with tasks the update is a per-task template: 'grad[t]', 'w[t]'.
        context = model.binding("grad", to: .letNode(grad, perTask: w.perTask)).with(
          task: program.tasks != nil ? .template : .none)
        context = try ruleStates(in: context, variable: w)
      }
      let v = try expression(e, in: context)
      let shape = program.graph.shape(v.node)
      // One entry per entry of θ, the inner variables in order (Meta-SGD on several arrays).
      let total = inner.reduce(0) { $0 + program.variables[$1].shape.count }
      let flattened = s.schema.perEntry && inner.count > 1 && shape == .vector(total)
      if isUpdate || (s.schema.perEntry && !shape.isScalar && !flattened) {
        // Per entry (Meta-SGD's learning rates, a rule's update): the shape of every inner variable.
        for i in inner where program.variables[i].shape != shape {
          throw error(
            .settingShape(
              s.name, shape.description, program.variables[i].name,
              program.variables[i].shape.description), at: e.range)
        }
      } else if !shape.isScalar && !flattened {
        throw error(.settingNotScalar(s.name, shape.description), at: e.range)
      }
      if v.perTask && !isUpdate { throw error(.perTaskInGlobal(what), at: e.range) }
      if !isUpdate && !v.perTask && isConstant(v.node) {
        let t = try evaluateConstant(v.node)
        if let bad = t.scalars.first(where: { !s.schema.range.contains($0) }) {
          throw error(
            .settingOutOfRange(what, formatNumber(bad), range: s.schema.range.description),
            at: e.range)
        }
      }
      for leaf in program.graph.reachable(from: [v.node]) {
        guard case .variable(let j) = program.graph[leaf].op else { continue }
        let variable = program.variables[j]
        if (variable.level == .inner && !isUpdate) || role != .inner {
          let why =
            role == .inner
            ? "solver settings may use outer variables and data, not inner variables"
            : "outer solver settings are fixed"
          throw error(.settingUsesVariable(s.name, variable.name, why), at: e.range)
        }
      }
      return .expression(v.node)
    }
  }
}
