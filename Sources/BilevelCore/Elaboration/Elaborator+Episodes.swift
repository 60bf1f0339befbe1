import BilevelFrontEnd

extension Elaborator {
  /// `episodes s[t], q[t] = classes(y, ways: N, shots: K, queries: Q, pool: P, seed: s)`.
  mutating func elaborateEpisodes(
    support: Identifier, query: Identifier, task: Identifier?, value: Expr,
    in model: ElaborationContext
  ) throws(Poisoned) {
    try checkTaskSuffix(task)
    guard case .call(let callee, let arguments) = value.kind, callee.name == "classes",
      let first = arguments.first, first.label == nil,
      case .name(let labelsName) = first.value.kind,
      !arguments.dropFirst().contains(where: { $0.label == nil })
    else { throw error(.episodesNeedClasses, at: value.range) }
    guard case .data(let labels)? = model.names[labelsName], !program.data[labels].perTask,
      program.data[labels].shape.isVector
    else {
      if case .poisoned? = model.names[labelsName] { throw Poisoned() }
      throw error(.episodesNeedClasses, at: first.value.range)
    }
    var settings: [String: Int] = ["seed": 0, "pool": 1]
    for a in arguments.dropFirst() {
      let label = a.label!.name
      guard ["ways", "shots", "queries", "pool", "seed"].contains(label) else {
        throw error(
          .unknownArgumentLabel(
            label, function: "classes",
            hint: "; its settings are ways, shots, queries, pool and seed"
          ), at: a.label!.range)
      }
      settings[label] = try integer(
        a.value, what: "'\(label)'", positive: label != "seed", in: model)
    }
    guard let ways = settings["ways"], let shots = settings["shots"],
      let queries = settings["queries"]
    else { throw error(.episodesNeedClasses, at: value.range) }
    // The classes: the distinct label values, ascending; each class's rows.
    let values = program.data[labels].values[0].scalars
    guard values.allSatisfy({ $0.isFinite && $0 == $0.rounded() }) else {
      throw error(
        .episodeClasses("the labels '\(labelsName)' must be whole class numbers"),
        at: first.value.range)
    }
    let classes = Array(Set(values)).sorted()
    let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
    var classRows = [[Int]](repeating: [], count: classes.count)
    for (r, v) in values.enumerated() { classRows[index[v]!].append(r) }
    if ways > classes.count {
      throw error(
        .episodeClasses(
          "\(ways)-way tasks need \(ways) classes, but '\(labelsName)' has \(classes.count)"),
        at: value.range)
    }
    if let smallest = classRows.map(\.count).min(), smallest < shots + queries {
      throw error(
        .episodeClasses(
          "each class needs \(shots) support and \(queries) query rows, but one of '\(labelsName)' has \(smallest)"
        ), at: value.range)
    }
    let pool = task == nil ? 1 : settings["pool"]!
    if let tasks = program.tasks, task != nil, pool < tasks.count {
      throw error(
        .episodeClasses(
          "a pool of \(pool) tasks cannot give \(tasks.count) distinct tasks per outer step"),
        at: value.range)
    }
    let k = program.episodes.count
    program.episodes.append(
      EpisodeStream(
        name: (support.name, query.name), labels: labels, ways: ways, shots: shots,
        queries: queries, pool: pool, seed: UInt64(settings["seed"]!), perTask: task != nil,
        classRows: classRows, range: support.range))
    scope[support.name] = .episode(k, query: false)
    scope[query.name] = .episode(k, query: true)
  }

  /// `X[s[t], :]`, `X[hs, :]`: a task's support or query rows of data `X`,
  /// an input leaf (per task for per-task episodes); and `y[s[t]]` with `y`
  /// the episodes' labels: the relabelled classes 0..N−1, a constant.
  mutating func episodeSelection(
    _ base: Expr, _ items: [IndexItem], at range: SourceRange, in context: ElaborationContext
  ) throws(Poisoned) -> Value? {
    guard let first = items.first, case .at(let e) = first else { return nil }
    let name: String
    var suffix = ""
    switch e.kind {
    case .name(let n): name = n
    case .index(let inner, let taskItems):
      guard case .name(let n) = inner.kind, taskItems.count == 1,
        case .at(let t) = taskItems[0], case .name(let tn) = t.kind
      else { return nil }
      name = n
      suffix = "[\(tn)]"
    default: return nil
    }
    guard case .episode(let k, let query)? = context.names[name] else { return nil }
    let stream = program.episodes[k]
    if stream.perTask != !suffix.isEmpty {
      throw error(
        stream.perTask
          ? .perTaskNeedsIndex(name, program.tasks!.index) : .notPerTask(name), at: e.range)
    }
    if stream.perTask {
      try checkTaskSuffix(Identifier(name: String(suffix.dropFirst().dropLast()), range: e.range))
      switch context.task {
      case .none: throw error(.taskIndexOutsideTasks(program.tasks!.index), at: e.range)
      case .concrete: throw error(.batchInFixedValue(name), at: e.range)
      case .template: break
      }
    }
    if context.allowsDataSources || { if case .data = context.place { true } else { false } }() {
      throw error(.batchInFixedValue(name), at: e.range)
    }
    guard case .name(let dataName) = base.kind, case .data(let d)? = context.names[dataName],
      !program.data[d].perTask, !program.data[d].shape.isScalar,
      items.count == 1
        || (items.count == 2 && { if case .all = items[1] { true } else { false } }()),
      program.data[d].shape.rows == program.data[stream.labels].shape.rows
    else {
      if case .name(let n) = base.kind, case .poisoned? = context.names[n] { throw Poisoned() }
      throw error(.episodeSelection(name, suffix), at: range)
    }
    let count = stream.ways * (query ? stream.queries : stream.shots)
    if d == stream.labels {
      let labels = Tensor(shape: .vector(count), scalars: stream.relabelled(query: query))
      return Value(node: program.graph.literal(labels, at: range), perTask: false)
    }
    let entry = program.data[d]
    let shape: Shape = entry.shape.isMatrix ? .matrix(count, entry.shape.columns) : .vector(count)
    let source = RowSource.episode(k, query: query)
    let input: Int
    if let view = program.batchViews.first(where: { $0.data == d && $0.source == source }) {
      input = view.input
    } else {
      input = program.inputs.count
      let written =
        entry.shape.isMatrix ? "\(dataName)[\(name)\(suffix), :]" : "\(dataName)[\(name)\(suffix)]"
      program.inputs.append(InputEntry(name: written, shape: shape, perTask: stream.perTask))
      program.batchViews.append(BatchView(input: input, data: d, source: source))
    }
    return leaf(.input(input), shape: shape, perTask: stream.perTask, at: range)
  }
}
