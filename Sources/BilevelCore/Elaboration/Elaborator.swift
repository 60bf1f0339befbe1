import BilevelFrontEnd

/// Turns a parsed program into a `Program`: resolves names, inlines
/// functions, checks shapes, loads data, validates solver settings and the
/// bilevel structure. Errors are recorded and elaboration continues with the
/// next statement; a name whose definition failed is poisoned, so one
/// mistake is reported once.
public struct Elaborator {
  public internal(set) var program: Program
  public internal(set) var diagnostics: [Diagnostic] = []
  let options: CompileOptions
  /// The file's names so far; an expression sees them through its `ElaborationContext`.
  var scope: [String: Binding] = [:]
  /// Every name the file declares, at its first declaration (for "used before definition").
  var declared: [String: SourceRange] = [:]
  /// Calls inlined in the current statement: definitions that each call the
  /// previous one twice would otherwise expand exponentially.
  var inlinedCalls = 0
  static let maximumInlinedCalls = 10_000
  /// Statements (by index) skipped because they redefine a name.
  var skipped: Set<Int> = []
  var firstRange: [String: SourceRange] = [:]
  /// The sources of the literals made while a data expression elaborates.
  var dataSources: [Int: DataSource] = [:]
  /// True while a data expression elaborates without keeping its recipe:
  /// small constant results are then computed at once (see `apply`).
  var foldsConstants = false
  /// Declared dims tied to values' axes, and where untyped CSV data came from.
  var dimLinks = DimLinks()
  /// `state` statements, checked where declared and elaborated with the rule's update.
  var pendingStates: [PendingState] = []

  public init(file: SourceFile, options: CompileOptions = CompileOptions()) {
    self.program = Program(file: file)
    self.options = options
  }

  /// Elaborates a whole file and checks the bilevel structure.
  public static func elaborate(
    _ source: SourceProgram, options: CompileOptions = CompileOptions()
  )
    -> (program: Program?, diagnostics: [Diagnostic])
  {
    var e = Elaborator(file: source.file, options: options)
    e.declareAll(source.statements)
    for (i, s) in source.statements.enumerated() where !e.skipped.contains(i) { e.statement(s) }
    e.checkRuleStates()
    if !e.hasErrors { e.checkStructure() }
    if !e.hasErrors { e.checkBatchCadence() }
    return (e.hasErrors ? nil : e.program, e.diagnostics)
  }

  /// Elaborates one expression on its own (the REPL); nil after an error.
  public mutating func expressionNode(_ e: Expr) -> NodeID? {
    inlinedCalls = 0
    return try? expression(e, in: .model(scope)).node
  }

  /// The leaf node of a data entry or variable, for `wrt` (nil for other names).
  public mutating func leafNode(named name: String) -> NodeID? {
    switch scope[name] {
    case .data(let i)?: return program.graph.make(.data(i), shape: program.data[i].shape)
    case .variable(let i)?:
      return program.graph.make(.variable(i), shape: program.variables[i].shape)
    default: return nil
    }
  }

  /// For the REPL's `wrt`: a `let` whose value reads no variable becomes a
  /// variable starting at that value, so what is elaborated next depends on
  /// it as on a leaf. False for other names and for lets that read variables.
  public mutating func bindLetAsVariable(named name: String, at range: SourceRange) -> Bool {
    guard case .letNode(let node, perTask: false)? = scope[name],
      program.graph.variables(readBy: [node]).isEmpty
    else { return false }
    program.variables.append(
      Variable(
        name: name, level: .inner, shape: program.graph.shape(node), perTask: false,
        initial: node, bounds: nil, range: range))
    scope[name] = .variable(program.variables.count - 1)
    return true
  }

  /// Whether `name` is a `let` (the REPL says why it cannot be a `wrt`).
  public func isLet(_ name: String) -> Bool {
    if case .letNode? = scope[name] { return true }
    return false
  }

  /// Hands over the diagnostics gathered so far (the REPL prints them per line).
  public mutating func takeDiagnostics() -> [Diagnostic] {
    defer { diagnostics = [] }
    return diagnostics
  }

  public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

  mutating func error(_ m: Message, at r: SourceRange?, notes: [Diagnostic] = []) -> Poisoned {
    diagnostics.append(.error(m, at: r, notes: notes))
    return Poisoned()
  }

  mutating func warning(_ m: Message, at r: SourceRange?) {
    diagnostics.append(.warning(m, at: r))
  }

  /// Pre-pass: every declared name, duplicates and built-in shadowing.
  mutating func declareAll(_ statements: [Statement]) {
    for (i, s) in statements.enumerated() {
      for name in Elaborator.declaredNames(s) {
        if Builtins.isBuiltin(name.name) {
          diagnostics.append(.error(.shadowsBuiltin(name.name), at: name.range))
          skipped.insert(i)
        } else if let previous = declared[name.name] {
          diagnostics.append(
            .error(
              .duplicateDefinition(name.name), at: name.range,
              notes: [.note(.previousDefinition, at: previous)]))
          skipped.insert(i)
        } else {
          declared[name.name] = name.range
        }
      }
    }
  }

  public static func declaredNames(_ s: Statement) -> [Identifier] {
    switch s.kind {
    case .dims(let ds): return ds.map(\.name)
    case .tasks(let index, _, _): return [index]
    case .data(let name, _, _, _), .variable(_, let name, _, _, _, _), .letBinding(let name, _, _),
      .function(let name, _, _), .batch(let name, _), .ruleState(let name, _, _, _, _):
      return [name]
    case .episodes(let support, let query, _, _): return [support, query]
    case .loss, .fixpoint, .solve, .hypergradient, .report, .proxy: return []
    }
  }

  /// One statement whose data files are read beside `file` (the REPL's `:load`).
  public mutating func statement(_ s: Statement, readingFilesBeside file: SourceFile) {
    let saved = program.file
    program.file = file
    defer { program.file = saved }
    statement(s)
  }

  /// Elaborates one statement; errors are recorded, never thrown.
  public mutating func statement(_ s: Statement) {
    inlinedCalls = 0
    let names = Elaborator.declaredNames(s)
    if options.allowRedefinition {
      for n in names where Builtins.isBuiltin(n.name) {
        diagnostics.append(.error(.shadowsBuiltin(n.name), at: n.range))
        return
      }
    }
    do {
      try elaborateStatement(s)
    } catch {
      for n in names { scope[n.name] = .poisoned }
    }
  }

  mutating func elaborateStatement(_ s: Statement) throws(Poisoned) {
    let model = ElaborationContext.model(scope)
    switch s.kind {
    case .dims(let dims):
      for (name, value) in dims {
        // Each sees the dimensions before it: `dim n = 3, m = 2 * n`.
        let n = try integer(
          value, what: "dimension '\(name.name)'", positive: true, in: .model(scope))
        program.dims.append((name.name, n))
        scope[name.name] = .dim(n)
      }
    case .tasks(let index, let lower, let upper):
      if program.tasks != nil { throw error(.duplicateTasks, at: s.keywordRange) }
      let lo = try integer(lower, what: "the first task", in: model)
      if lo != 1 { throw error(.tasksStartAtOne, at: lower.range) }
      let count = try integer(upper, what: "the number of tasks", positive: true, in: model)
      if count > 1_000_000 {
        throw error(.tooLarge("the task range", "\(count)", limit: "1000000"), at: upper.range)
      }
      program.tasks = TaskRange(index: index.name, count: count)
    case .data(let name, let task, let type, let value):
      try elaborateData(name: name, task: task, type: type, value: value, in: model)
    case .variable(let level, let name, let task, let type, let initial, let bounds):
      try elaborateVariable(
        level: level, name: name, task: task, type: type, initial: initial, bounds: bounds,
        in: model)
    case .letBinding(let name, let task, let value):
      try checkTaskSuffix(task)
      let v = try expression(value, in: model.with(task: task != nil ? .template : .none))
      if v.perTask && task == nil {
        throw error(.perTaskInGlobal("let '\(name.name)'"), at: value.range)
      }
      program.lets.append((name.name, v.node, task != nil))
      scope[name.name] = .letNode(v.node, perTask: task != nil)
    case .function(let name, let parameters, let body):
      for (i, p) in parameters.enumerated()
      where parameters[..<i].contains(where: { $0.name == p.name }) {
        throw error(.duplicateDefinition(p.name), at: p.range)
      }
      scope[name.name] = .function(
        FunctionDefinition(name: name.name, parameters: parameters, body: body, scope: scope))
    case .loss(let level, let task, let value, let trajectory):
      try elaborateLoss(level: level, task: task, value: value, statement: s, in: model)
      if level == .outer, let trajectory { try elaborateTrajectory(trajectory) }
    case .fixpoint(let variable, let task, let value):
      try elaborateFixpoint(variable: variable, task: task, value: value, statement: s, in: model)
    case .solve(let level, let call):
      let exists = level == .inner ? program.innerSolver != nil : program.outerSolver != nil
      if exists {
        throw error(.duplicateStatement("'solve \(level.rawValue)'"), at: s.keywordRange)
      }
      if level == .inner {
        program.innerSolver = try innerSolverStatement(call, in: model)
      } else {
        program.outerSolver = try outerSolverStatement(call, in: model)
      }
    case .report(let name, let value):
      if let previous = program.reports.first(where: { $0.name == name.name }) {
        throw error(
          .duplicateStatement("report '\(name.name)'"), at: name.range,
          notes: [.note(.previousDefinition, at: previous.range)])
      }
      let v = try expression(value, in: model.with(task: .none))
      if v.perTask { throw error(.perTaskInGlobal("report '\(name.name)'"), at: value.range) }
      let shape = program.graph.shape(v.node)
      if !shape.isScalar {
        throw error(.reportNotScalar(name.name, shape.description), at: value.range)
      }
      program.reports.append(ReportStatement(name: name.name, node: v.node, range: name.range))
    case .batch(let name, let value):
      try elaborateBatch(name: name, value: value, in: model)
    case .episodes(let support, let query, let task, let value):
      try elaborateEpisodes(support: support, query: query, task: task, value: value, in: model)
    case .ruleState(let name, let task, let type, let initial, let next):
      try declareRuleState(
        name: name, task: task, type: type, initial: initial, next: next, in: model)
    case .hypergradient(let call):
      if program.hypergradient != nil {
        throw error(.duplicateStatement("'hypergradient'"), at: s.keywordRange)
      }
      program.hypergradient = try methodStatement(call, in: model)
    case .proxy(let variable, let value, let parameters):
      try elaborateProxy(
        variable: variable, value: value, parameters: parameters, statement: s, in: model)
    }
  }

  /// A `[t]` suffix must name the declared task index.
  mutating func checkTaskSuffix(_ task: Identifier?) throws(Poisoned) {
    guard let task else { return }
    guard let tasks = program.tasks else { throw error(.noTasksDeclared, at: task.range) }
    if task.name != tasks.index {
      throw error(.taskIndexMismatch(task.name, declared: tasks.index), at: task.range)
    }
  }

  mutating func elaborateVariable(
    level: Level, name: Identifier, task: Identifier?, type: TypeExpr,
    initial: Expr, bounds: (lower: Expr, upper: Expr)?, in model: ElaborationContext
  ) throws(Poisoned) {
    try checkTaskSuffix(task)
    let shape = try typeShape(type, in: model)
    let start = model.with(task: task != nil ? .template : .none).allowingDataSources()
    var value = try expression(initial, in: start)
    if value.perTask && task == nil {
      throw error(.perTaskInGlobal("the initial value of '\(name.name)'"), at: initial.range)
    }
    value = try conform(value, to: shape, what: "'\(name.name)'", declared: type, at: initial.range)
    // An outer start is fixed; an inner start may use outer variables (MAML).
    for j in program.graph.variables(readBy: [value.node]) {
      let v = program.variables[j]
      if level == .outer || v.level == .inner {
        let why =
          level == .outer
          ? "outer variables start from constants and data"
          : "inner variables start from data and outer variables"
        throw error(.initialUsesVariable(name.name, v.name, why), at: initial.range)
      }
    }
    var boundNodes: (NodeID, NodeID)? = nil
    if let bounds {
      if level == .inner {
        throw error(.boundsOnInner(name.name), at: bounds.lower.range.union(bounds.upper.range))
      }
      let lower = try compileTime(bounds.lower, what: "a bound", in: start)
      let upper = try compileTime(bounds.upper, what: "a bound", in: start)
      let lo = try conform(
        lower, to: shape, what: "the lower bound", declared: type, at: bounds.lower.range)
      let hi = try conform(
        upper, to: shape, what: "the upper bound", declared: type, at: bounds.upper.range)
      let l = try evaluateConstant(lo.node)
      let h = try evaluateConstant(hi.node)
      if zip(l.scalars, h.scalars).contains(where: { $0 > $1 }) {
        throw error(.boundsOrder(name.name), at: bounds.lower.range.union(bounds.upper.range))
      }
      if !value.perTask, let start = try? evaluateConstant(value.node),
        zip(start.scalars, zip(l.scalars, h.scalars)).contains(where: { $0 < $1.0 || $0 > $1.1 })
      {
        warning(.initialOutsideBounds(name.name), at: initial.range)
      }
      boundNodes = (lo.node, hi.node)
    }
    let index = program.variables.count
    dimLinks.variables[index] = ties(of: type, declaring: name.name)
    program.variables.append(
      Variable(
        name: name.name, level: level, shape: shape, perTask: task != nil,
        initial: value.node, bounds: boundNodes.map { (lower: $0.0, upper: $0.1) },
        range: name.range))
    scope[name.name] = .variable(index)
  }

  mutating func elaborateLoss(
    level: Level, task: Identifier?, value: Expr, statement s: Statement,
    in model: ElaborationContext
  ) throws(Poisoned) {
    if level == .inner && (program.innerLoss != nil || program.innerFixpoint != nil) {
      let what = program.innerLoss != nil ? "the inner loss" : nil
      let previous = program.innerLossRange ?? program.innerFixpoint?.range
      throw error(
        what.map { .duplicateStatement($0) } ?? .lossAndFixpoint, at: s.keywordRange,
        notes: previous.map { [.note(.previousDefinition, at: $0)] } ?? [])
    }
    if level == .outer && program.outerLoss != nil {
      throw error(
        .duplicateStatement("the outer loss"), at: s.keywordRange,
        notes: program.outerLossRange.map { [.note(.previousDefinition, at: $0)] } ?? [])
    }
    if level == .outer, let task { throw error(.perTaskInGlobal("the outer loss"), at: task.range) }
    try checkTaskSuffix(task)
    let v = try expression(value, in: model.with(task: task != nil ? .template : .none))
    let which = "\(level.rawValue) loss"
    if v.perTask && task == nil { throw error(.perTaskInGlobal("the \(which)"), at: value.range) }
    let shape = program.graph.shape(v.node)
    if !shape.isScalar { throw error(.lossNotScalar(which, shape.description), at: value.range) }
    try refuseNonDifferentiable(v.node, in: "the \(which)", at: value.range)
    if level == .inner {
      program.innerLoss = v.node
      program.innerLossRange = value.range
    } else {
      program.outerLoss = v.node
      program.outerLossRange = value.range
    }
  }

  /// `over trajectory(weights: w)`: w names a data vector (its length, T, is checked with the solver).
  mutating func elaborateTrajectory(_ clause: TrajectoryClause) throws(Poisoned) {
    program.outerTrajectory = clause.range
    guard let w = clause.weights else { return }
    guard case .data(let i)? = scope[w.name], program.data[i].shape.rank == 1,
      !program.data[i].perTask
    else {
      if case .poisoned? = scope[w.name] { throw Poisoned() }
      throw error(.trajectoryWeightsNotData(w.name), at: w.range)
    }
    program.outerTrajectoryWeights = (program.data[i].values[0].scalars, w.range)
  }

  mutating func elaborateFixpoint(
    variable: Identifier, task: Identifier?, value: Expr, statement s: Statement,
    in model: ElaborationContext
  ) throws(Poisoned) {
    if program.innerLoss != nil { throw error(.lossAndFixpoint, at: s.keywordRange) }
    if program.innerFixpoint != nil {
      throw error(.duplicateStatement("the inner fixpoint"), at: s.keywordRange)
    }
    guard case .variable(let index)? = scope[variable.name],
      program.variables[index].level == .inner
    else {
      if case .poisoned? = scope[variable.name] { throw Poisoned() }
      throw error(.fixpointNeedsInnerVariable(variable.name), at: variable.range)
    }
    try checkTaskSuffix(task)
    let v = try expression(value, in: model.with(task: task != nil ? .template : .none))
    let z = program.variables[index]
    if v.perTask && task == nil {
      throw error(.perTaskInGlobal("the fixpoint map"), at: value.range)
    }
    let shape = program.graph.shape(v.node)
    if shape != z.shape {
      throw error(
        .fixpointShape(z.name, variable: z.shape.description, map: shape.description),
        at: value.range)
    }
    try refuseNonDifferentiable(v.node, in: "the fixpoint map", at: value.range)
    program.innerFixpoint = Fixpoint(variable: index, map: v.node, range: s.range)
  }

  /// Solvers and hypergradients differentiate losses and fixpoint maps; an
  /// argmax there would give a zero gradient that looks like convergence.
  mutating func refuseNonDifferentiable(
    _ root: NodeID, in what: String, at range: SourceRange
  ) throws(Poisoned) {
    for id in program.graph.reachable(from: [root]) {
      guard case .argmax = program.graph[id].op else { continue }
      throw error(.notDifferentiable("argmax", in: what), at: program.graph.origin(id) ?? range)
    }
  }
}
