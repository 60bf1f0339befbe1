import BilevelFrontEnd

extension Elaborator {
  /// A batch drawn per inner step needs inner steps that are taken (and
  /// replayed) one at a time: gd, momentum, adam or a rule. Newton and
  /// fixpoint iterations stop at a tolerance, and a flow's adjoint integrates
  /// backward with one batch.
  mutating func checkBatchCadence() {
    guard let solver = program.innerSolver else { return }
    switch solver.spec {
    case .gd, .momentum, .adam, .rule: return
    case .newton, .fixpoint, .flow: break
    }
    for b in program.batches where b.cadence == .innerStep {
      diagnostics.append(.error(.batchPerInnerStep(b.name, solver.name), at: b.range))
    }
  }

  /// `batch b = rows(n, size: k, seed: s, per: inner_step, replace: false)`.
  mutating func elaborateBatch(
    name: Identifier, value: Expr, in model: ElaborationContext
  ) throws(Poisoned) {
    guard case .call(let callee, let arguments) = value.kind, callee.name == "rows",
      let first = arguments.first, first.label == nil,
      !arguments.dropFirst().contains(where: { $0.label == nil })
    else { throw error(.batchNeedsRows, at: value.range) }
    let population = try integer(
      first.value, what: "the rows drawn from", positive: true, in: model)
    var size: Int?
    var seed = 0
    var cadence = BatchCadence.innerStep
    var replace = false
    for a in arguments.dropFirst() {
      switch a.label!.name {
      case "size": size = try integer(a.value, what: "the batch size", positive: true, in: model)
      case "seed":
        seed = try integer(a.value, what: "the seed", in: model)
        if seed < 0 { throw error(.batchSetting("seed", "a whole number ≥ 0"), at: a.value.range) }
      case "per":
        guard case .name(let word) = a.value.kind, let c = BatchCadence(rawValue: word) else {
          throw error(.batchSetting("per", "inner_step or outer_step"), at: a.value.range)
        }
        cadence = c
      case "replace":
        guard case .name(let word) = a.value.kind, word == "true" || word == "false" else {
          throw error(.batchSetting("replace", "true or false"), at: a.value.range)
        }
        replace = word == "true"
      default:
        throw error(
          .unknownArgumentLabel(
            a.label!.name, function: "rows", hint: "; its settings are size, seed, per and replace"),
          at: a.label!.range)
      }
    }
    guard let size else { throw error(.batchNeedsRows, at: value.range) }
    if !replace && size > population {
      throw error(.batchTooLarge(size, population), at: value.range)
    }
    let index = program.batches.count
    program.batches.append(
      MinibatchStream(
        name: name.name, population: population, size: size, seed: UInt64(seed),
        cadence: cadence, replace: replace, range: name.range))
    scope[name.name] = .batch(index)
  }

  /// `X[b, :]` or `y[b]` with `b` a minibatch stream: the input leaf of the
  /// selected rows (one per data entry and stream). Nil when the first
  /// index is not a stream's name.
  mutating func batchSelection(
    _ base: Expr, _ items: [IndexItem], at range: SourceRange, in context: ElaborationContext
  ) throws(Poisoned) -> Value? {
    guard let first = items.first, case .at(let e) = first, case .name(let b) = e.kind,
      case .batch(let k)? = context.names[b]
    else { return nil }
    if context.allowsDataSources || { if case .data = context.place { true } else { false } }() {
      throw error(.batchInFixedValue(b), at: e.range)
    }
    guard case .name(let dataName) = base.kind, case .data(let d)? = context.names[dataName],
      !program.data[d].perTask
    else {
      if case .name(let n) = base.kind, case .poisoned? = context.names[n] { throw Poisoned() }
      throw error(.batchOfData(b), at: base.range)
    }
    let entry = program.data[d]
    let stream = program.batches[k]
    if entry.shape.isScalar || items.count > entry.shape.rank
      || (items.count == 2 && { if case .all = items[1] { false } else { true } }())
    {
      throw error(.batchColumns(b), at: range)
    }
    if entry.shape.rows != stream.population {
      throw error(
        .batchRowCount(dataName, rows: entry.shape.rows, batch: b, population: stream.population),
        at: base.range)
    }
    let shape: Shape =
      entry.shape.isMatrix ? .matrix(stream.size, entry.shape.columns) : .vector(stream.size)
    let input: Int
    if let view = program.batchViews.first(where: { $0.data == d && $0.source == .batch(k) }) {
      input = view.input
    } else {
      input = program.inputs.count
      program.inputs.append(
        InputEntry(
          name: entry.shape.isMatrix ? "\(dataName)[\(b), :]" : "\(dataName)[\(b)]", shape: shape,
          perTask: false))
      program.batchViews.append(BatchView(input: input, data: d, source: .batch(k)))
    }
    return leaf(.input(input), shape: shape, perTask: false, at: range)
  }
}
