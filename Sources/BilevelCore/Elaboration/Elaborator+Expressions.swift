import BilevelFrontEnd

extension Elaborator {
  /// Elaborates an expression in `context`.
  mutating func expression(_ e: Expr, in context: ElaborationContext) throws(Poisoned) -> Value {
    switch e.kind {
    case .number(let v, _):
      return Value(node: program.graph.constant(v), perTask: false)
    case .string(let s):
      throw error(.stringNotValue("\"\(s)\""), at: e.range)
    case .name(let name):
      return try lookup(name, at: e.range, in: context)
    case .negate(let x):
      let v = try expression(x, in: context)
      return try apply(.unary(.negate), [v], at: e.range)
    case .binary(let op, let l, let r):
      let a = try expression(l, in: context)
      let b = try expression(r, in: context)
      if op != .matmul { try checkOrientation(a, b, at: e.range) }
      switch op {
      case .add: return try apply(.binary(.add), [a, b], at: e.range)
      case .subtract: return try apply(.binary(.subtract), [a, b], at: e.range)
      case .multiply: return try apply(.binary(.multiply), [a, b], at: e.range)
      case .divide: return try apply(.binary(.divide), [a, b], at: e.range)
      case .power: return try apply(.binary(.power), [a, b], at: e.range)
      case .matmul:
        return try apply(.matmul(transposeLeft: false, transposeRight: false), [a, b], at: e.range)
      }
    case .transpose(let x):
      return try apply(.transpose, [try expression(x, in: context)], at: e.range)
    case .call(let callee, let arguments):
      return try call(callee, arguments, at: e.range, in: context)
    case .index(let base, let items):
      return try index(base, items, at: e.range, in: context)
    case .array(let elements):
      return try array(elements, at: e.range, in: context)
    case .over(let reduction, let index, let body):
      return try over(reduction, index, body, at: e.range, in: context)
    }
  }

  /// A vector meets a matrix along the matrix's columns, whatever the sizes,
  /// so a square matrix cannot change the meaning; `col(v)` pairs it with rows.
  mutating func checkOrientation(_ a: Value, _ b: Value, at range: SourceRange) throws(Poisoned) {
    let (sa, sb) = (program.graph.shape(a.node), program.graph.shape(b.node))
    for (v, m) in [(sa, sb), (sb, sa)]
    where v.isVector && m.isMatrix && v.rows != m.columns && v.count != 1 {
      if let e = blameCSVFile(.binary(.multiply), [a, b], at: range) { throw e }
      throw error(
        .vectorOrientation(
          vector: v.description, entries: v.rows, matrix: m.description, columns: m.columns,
          rows: m.rows), at: range)
    }
  }

  /// Adds a node; shape errors become diagnostics at `range`.
  mutating func apply(
    _ op: Op, _ inputs: [Value], shape: Shape? = nil, at range: SourceRange
  ) throws(Poisoned) -> Value {
    if let e = blameCSVFile(op, inputs, ifIllShaped: shape, at: range) { throw e }
    if foldsConstants, let folded = try fold(op, inputs, shape: shape, at: range) { return folded }
    let id: NodeID
    do {
      id = try program.graph.add(op, inputs.map(\.node), shape: shape, at: range)
    } catch {
      throw self.error(.shapeMismatch(error.message), at: range)
    }
    let count = program.graph.shape(id).count
    if count > options.maximumTensorElements {
      throw error(
        .tooLarge("this value", "\(count)", limit: "\(options.maximumTensorElements)"), at: range)
    }
    return Value(node: id, perTask: inputs.contains { $0.perTask })
  }

  static let maximumFoldedElements = 1 << 16

  /// `op(inputs)` as a literal when every input is a constant: the same shape
  /// rule and `evaluateReference` the graph and evaluator would run later,
  /// done now so that a data expression's scratch graph stays a few nodes.
  mutating func fold(
    _ op: Op, _ inputs: [Value], shape declared: Shape?, at range: SourceRange
  ) throws(Poisoned) -> Value? {
    switch op {
    case .constant, .literal, .data, .variable, .input, .taskReduce: return nil
    default: break
    }
    if let arity = op.arity, arity != inputs.count { return nil }
    var values: [Tensor] = []
    for v in inputs {
      guard let t = program.graph.constantValue(v.node) else { return nil }
      values.append(t)
    }
    let shape: Shape
    do {
      shape = try op.resultShape(values.map(\.shape), declared: declared)
    } catch {
      throw self.error(.shapeMismatch(error.message), at: range)
    }
    guard shape.count <= Self.maximumFoldedElements else { return nil }
    return Value(
      node: program.graph.literal(Self.evaluateData(op, values, shape: shape), at: range),
      perTask: false)
  }

  mutating func leaf(_ op: Op, shape: Shape, perTask: Bool, at range: SourceRange) -> Value {
    Value(node: program.graph.make(op, shape: shape, at: range), perTask: perTask)
  }

  mutating func lookup(
    _ name: String, at range: SourceRange, in context: ElaborationContext
  ) throws(Poisoned) -> Value {
    if let tasks = program.tasks, name == tasks.index {
      switch context.task {
      case .none: throw error(.taskIndexOutsideTasks(name), at: range)
      case .concrete(let t):
        return Value(node: program.graph.constant(Double(t + 1)), perTask: false)
      case .template: return taskIndexValue(at: range)
      }
    }
    guard let binding = context.names[name] else {
      throw undefined(name, at: range, function: false, in: context)
    }
    switch binding {
    case .dim(let n):
      return Value(node: program.graph.constant(Double(n)), perTask: false)
    case .data(let i):
      let d = program.data[i]
      if d.perTask { throw error(.perTaskNeedsIndex(name, program.tasks!.index), at: range) }
      return leaf(.data(i), shape: d.shape, perTask: false, at: range)
    case .variable(let i):
      let v = program.variables[i]
      if case .data(let dataName) = context.place {
        throw error(.dataUsesVariable(dataName, name), at: range)
      }
      if v.perTask { throw error(.perTaskNeedsIndex(name, program.tasks!.index), at: range) }
      return leaf(.variable(i), shape: v.shape, perTask: false, at: range)
    case .letNode(let node, let perTask):
      if case .data(let dataName) = context.place {
        throw error(.dataUsesVariable(dataName, name), at: range)
      }
      if perTask { throw error(.perTaskNeedsIndex(name, program.tasks!.index), at: range) }
      return Value(node: node, perTask: false)
    case .value(let v):
      return v
    case .function:
      throw error(.functionUsedAsValue(name), at: range)
    case .batch, .episode:
      throw error(.batchUsedAsValue(name), at: range)
    case .ruleState:
      throw error(.stateOutsideRule(name), at: range)
    case .poisoned:
      throw Poisoned()
    }
  }

  /// The task index used as a number inside a per-task template: a hidden
  /// per-task data entry holding 1...M.
  mutating func taskIndexValue(at range: SourceRange) -> Value {
    let name = program.tasks!.index
    let index: Int
    if let i = program.data.firstIndex(where: { $0.name == name && $0.perTask }) {
      index = i
    } else {
      index = program.data.count
      program.data.append(
        DataEntry(
          name: name, shape: .scalar, values: (1...program.tasks!.count).map { Tensor(Double($0)) },
          perTask: true, range: range, definition: "the task index"))
    }
    return leaf(.data(index), shape: .scalar, perTask: true, at: range)
  }

  func undefinedCandidates(_ names: [String: Binding]) -> [String] {
    // Sorted, so suggestions do not depend on dictionary order.
    (names.keys.sorted() + (program.tasks.map { [$0.index] } ?? []))
  }

  mutating func undefined(
    _ name: String, at range: SourceRange, function: Bool, in context: ElaborationContext
  ) -> Poisoned {
    if let declaredAt = declared[name],
      declaredAt.start > range.start || declaredAt.file !== range.file
    {
      let line = declaredAt.file.lineAndColumn(of: declaredAt.start).line
      return error(.usedBeforeDefinition(name, line: line), at: range)
    }
    if function {
      let functions = context.names.keys.sorted().filter {
        if case .function? = context.names[$0] { return true } else { return false }
      }
      let candidates = Builtins.names + functions
      return error(
        .undefinedFunction(name, hint: Suggestions.hint(for: name, among: candidates)), at: range)
    }
    if Builtins.isBuiltin(name) { return error(.functionUsedAsValue(name), at: range) }
    return error(
      .undefinedName(
        name, hint: Suggestions.hint(for: name, among: undefinedCandidates(context.names))),
      at: range)
  }

  /// `mean over t: body`.
  mutating func over(
    _ reduction: Identifier, _ index: Identifier, _ body: Expr, at range: SourceRange,
    in context: ElaborationContext
  ) throws(Poisoned) -> Value {
    guard let tasks = program.tasks else { throw error(.noTasksDeclared, at: index.range) }
    if index.name != tasks.index {
      throw error(.taskIndexMismatch(index.name, declared: tasks.index), at: index.range)
    }
    let r: Reduction
    switch reduction.name {
    case "mean": r = .mean
    case "sum": r = .sum
    default: throw error(.overReduction(reduction.name), at: reduction.range)
    }
    if context.task != .none { throw error(.nestedOver, at: reduction.range) }
    let v = try expression(body, in: context.with(task: .template))
    let result = try apply(.taskReduce(r), [v], at: range)
    return Value(node: result.node, perTask: false)
  }

  /// `x[i]`, `A[i, :]`, `x[a:b]` (1-based, inclusive), and `xs[t]` for per-task names.
  mutating func index(
    _ base: Expr, _ items: [IndexItem], at range: SourceRange, in context: ElaborationContext
  ) throws(Poisoned) -> Value {
    if case .name(let name) = base.kind,
      let selected = try taskSelection(name, items, base: base, at: range, in: context)
    {
      return selected
    }
    if let rows = try batchSelection(base, items, at: range, in: context) { return rows }
    if let rows = try episodeSelection(base, items, at: range, in: context) { return rows }
    let v = try expression(base, in: context)
    let shape = program.graph.shape(v.node)
    if shape.isScalar { throw error(.scalarIndexed, at: range) }
    if items.count > shape.rank {
      throw error(.tooManyIndices(shape.description, items.count), at: range)
    }
    let sizes = shape.isMatrix ? [shape.rows, shape.columns] : [shape.rows]
    var windows: [(Range<Int>, keeps: Bool)] = []
    for (axis, size) in sizes.enumerated() {
      let axisName = shape.isMatrix ? (axis == 0 ? "the rows" : "the columns") : "the vector"
      guard axis < items.count else {
        windows.append((0..<size, true))
        continue
      }
      switch items[axis] {
      case .all: windows.append((0..<size, true))
      case .at(let e):
        let i = try integer(e, what: "an index", in: context)
        if i < 1 || i > size {
          throw error(.indexOutOfRange(i, size: size, axis: axisName), at: e.range)
        }
        windows.append(((i - 1)..<i, false))
      case .slice(let lower, let upper, let r):
        let lo =
          try lower.map { (e) throws(Poisoned) in try integer(e, what: "a slice bound", in: context)
          } ?? 1
        let hi =
          try upper.map { (e) throws(Poisoned) in try integer(e, what: "a slice bound", in: context)
          } ?? size
        if lo < 1 || lo > size {
          throw error(.indexOutOfRange(lo, size: size, axis: axisName), at: lower?.range ?? r)
        }
        if hi < 1 || hi > size {
          throw error(.indexOutOfRange(hi, size: size, axis: axisName), at: upper?.range ?? r)
        }
        if hi < lo { throw error(.emptySlice(lo, hi), at: r) }
        windows.append(((lo - 1)..<hi, true))
      }
    }
    let kept = windows.filter(\.keeps).map { $0.0.count }
    let result = Shape(kept)
    let spec = SliceSpec(rows: windows[0].0, columns: windows.count > 1 ? windows[1].0 : 0..<1)
    if result == shape && spec.count == shape.count { return v }
    return try apply(.slice(spec), [v], shape: result, at: range)
  }

  /// `xs[t]` where `xs` is per task: the current task's value.
  mutating func taskSelection(
    _ name: String, _ items: [IndexItem], base: Expr, at range: SourceRange,
    in context: ElaborationContext
  ) throws(Poisoned) -> Value? {
    guard let tasks = program.tasks, items.count == 1, case .at(let e) = items[0],
      case .name(let t) = e.kind,
      t == tasks.index
    else {
      return nil
    }
    let perTask: Bool
    switch context.names[name] {
    case .data(let i)?: perTask = program.data[i].perTask
    case .variable(let i)?: perTask = program.variables[i].perTask
    case .letNode(_, let p)?: perTask = p
    case .ruleState?: throw error(.stateOutsideRule(name), at: base.range)
    case .poisoned?: throw Poisoned()
    default: perTask = false
    }
    if !perTask {
      if context.names[name] == nil { return nil }
      throw error(.notPerTask(name), at: base.range)
    }
    switch context.task {
    case .none: throw error(.taskIndexOutsideTasks(t), at: e.range)
    case .concrete(let k):
      guard case .data(let i)? = context.names[name] else {
        throw error(.dataUsesVariable(context.placeName, name), at: base.range)
      }
      // In per-task data the task is fixed: the entry's value for task k.
      let node = program.graph.literal(program.data[i].values[k], at: range)
      if case .literal(let j) = program.graph[node].op { dataSources[j] = .entry(i, task: k) }
      return Value(node: node, perTask: false)
    case .template:
      switch context.names[name]! {
      case .data(let i):
        if case .data(let dataName) = context.place {
          throw error(.dataUsesVariable(dataName, name), at: base.range)
        }
        return leaf(.data(i), shape: program.data[i].shape, perTask: true, at: range)
      case .variable(let i):
        if case .data(let dataName) = context.place {
          throw error(.dataUsesVariable(dataName, name), at: base.range)
        }
        return leaf(.variable(i), shape: program.variables[i].shape, perTask: true, at: range)
      case .letNode(let node, _):
        return Value(node: node, perTask: true)
      default:
        return nil
      }
    }
  }

  /// `[1, 2]` and `[[1, 2], [3, 4]]`; entries may be expressions.
  mutating func array(
    _ elements: [Expr], at range: SourceRange, in context: ElaborationContext
  ) throws(Poisoned) -> Value {
    let isMatrix = elements.contains {
      if case .array = $0.kind { return true } else { return false }
    }
    if !isMatrix {
      var values: [Value] = []
      for e in elements {
        let v = try expression(e, in: context)
        if !program.graph.shape(v.node).isScalar {
          throw error(
            .shapeMismatch(
              "entries of a vector literal must be scalars, not \(program.graph.shape(v.node))"),
            at: e.range)
        }
        values.append(v)
      }
      let constants = values.compactMap { program.graph.uniformConstant($0.node) }
      if constants.count == values.count {
        return Value(
          node: program.graph.literal(
            Tensor(shape: .vector(values.count), scalars: constants), at: range), perTask: false)
      }
      return try apply(.concat(axis: 0), values, at: range)
    }
    var rows: [Value] = []
    var width: Int? = nil
    for e in elements {
      guard case .array(let inner) = e.kind else {
        throw error(
          .shapeMismatch("a matrix literal's rows must all be brackets, as in [[1, 2], [3, 4]]"),
          at: e.range)
      }
      for x in inner { if case .array = x.kind { throw error(.arrayTooDeep, at: x.range) } }
      if let w = width, w != inner.count { throw error(.raggedArray(w, inner.count), at: e.range) }
      width = inner.count
      let row = try array(inner, at: e.range, in: context)
      rows.append(try apply(.reshape, [row], shape: .matrix(1, inner.count), at: e.range))
    }
    let joined = try apply(.concat(axis: 0), rows, at: range)
    if let t = try? evaluateConstant(joined.node) {
      return Value(node: program.graph.literal(t, at: range), perTask: false)
    }
    return joined
  }

  /// Broadcasts a value to a declared shape, or explains why it cannot.
  mutating func conform(
    _ v: Value, to shape: Shape, what: String, declared: TypeExpr, at range: SourceRange
  ) throws(Poisoned) -> Value {
    let actual = program.graph.shape(v.node)
    if actual == shape { return v }
    if BroadcastRole.of(actual, in: shape) != nil {
      return try apply(.broadcast, [v], shape: shape, at: range)
    }
    throw error(
      .typeMismatch(what, declared: shape.description, actual: actual.description), at: range)
  }

  mutating func typeShape(_ t: TypeExpr, in context: ElaborationContext) throws(Poisoned) -> Shape {
    var dims: [Int] = []
    for s in t.sizes { dims.append(try integer(s, what: "a size", positive: true, in: context)) }
    let count = dims.reduce(1) {
      $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1
    }
    if count > options.maximumTensorElements {
      throw error(
        .tooLarge("type \(t.range.text)", "\(count)", limit: "\(options.maximumTensorElements)"),
        at: t.range)
    }
    return Shape(dims)
  }
}
