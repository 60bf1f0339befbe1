import BilevelCore
import BilevelFrontEnd

/// A leaf a solver writes: a variable or an input, for one task or shared.
public struct Leaf: Sendable, Equatable {
  public let op: Op
  public let task: Int?
  public let count: Int
  public init(_ op: Op, task: Int?, count: Int) {
    self.op = op
    self.task = task
    self.count = count
  }
}

/// One argument's leaves in order, with where each sits: indexed once and
/// shared, since every task's functions may take every task's θ (an index
/// or a list per function would make task setup quadratic in the tasks).
public final class LeafLayout: Sendable {
  struct Key: Hashable {
    let op: Op
    let task: Int?
  }

  public let leaves: [Leaf]
  public let size: Int
  let places: [Key: [Place]]

  struct Place {
    let offset: Int
    let count: Int
  }

  public init(_ leaves: [Leaf]) {
    self.leaves = leaves
    var places: [Key: [Place]] = [:]
    var offset = 0
    for leaf in leaves {
      places[Key(op: leaf.op, task: leaf.task), default: []].append(
        Place(offset: offset, count: leaf.count))
      offset += leaf.count
    }
    self.places = places
    size = offset
  }
}

/// A plan seen as a function of flat vectors: each argument concatenates
/// some leaves, each result some roots. Loading and reading are copies
/// between caller-owned memory and the plan's arena, so a solver loop that
/// keeps its vectors allocates nothing. Its slots are bare numbers, so
/// callers go through `Compiled`, which names them; this untyped core is
/// public for what reads the plan alone (costs, arena sizes).
///
/// A task's function whose code the tasks share (PlanSharing.swift) runs
/// the instance of the thread that fetched it, bound to its task: `attach`
/// takes it up at each fetch, and every load and run checks it still holds.
// Unchecked: `plan` changes only in `attach`, on the thread that then runs it.
public final class CompiledFunction: @unchecked Sendable {
  struct Copy {
    let vector: Int
    let arena: Int
    let count: Int
  }

  public private(set) var plan: Plan
  /// The task it computes for (nil: not one task's), and the pool that keeps its plan's code.
  let task: Int?
  let constants: ConstantPool?
  public let argumentSizes: [Int]
  public let resultSizes: [Int]
  let loads: [[Copy]]
  let stores: [[Copy]]
  /// The minibatch rows the plan reads (`X[b, :]`), filled by `loadBatches`.
  let batches: BatchRows?

  /// Builds the plan of `results` (for `task`, when they vary by task) and
  /// binds every parameter it reads to a place in one of the arguments.
  public init(
    _ program: Program, arguments: [LeafLayout], results: [[NodeID]], task: Int?,
    constants: ConstantPool? = nil
  ) {
    let roots = results.flatMap { $0 }
    plan = PlanBuilder.build(program, roots: roots, task: task, constants: constants)
    self.task = task
    self.constants = constants
    argumentSizes = arguments.map(\.size)
    var loads = [[Copy]](repeating: [], count: arguments.count)
    var batchParameters: [(view: BatchView, task: Int?, offset: Int)] = []
    for p in plan.parameters {
      if case .input(let i) = p.leaf, let view = program.batchView(input: i) {
        batchParameters.append((view, p.task, p.offset))
        continue
      }
      var bound = false
      for (a, layout) in arguments.enumerated() {
        for place in layout.places[LeafLayout.Key(op: p.leaf, task: p.task)] ?? [] {
          precondition(
            place.count == p.shape.count,
            "\(p.leaf) has \(p.shape.count) entries, not \(place.count)")
          loads[a].append(Copy(vector: place.offset, arena: p.offset, count: place.count))
          bound = true
        }
      }
      precondition(
        bound,
        "the plan reads \(p.leaf)\(p.task.map { " of task \($0)" } ?? "") but no argument supplies it"
      )
    }
    self.loads = loads
    batches = batchParameters.isEmpty ? nil : BatchRows(program, batchParameters)
    var stores: [[Copy]] = []
    var output = 0
    for group in results {
      var copies: [Copy] = []
      var offset = 0
      for _ in group {
        let o = plan.outputs[output]
        copies.append(Copy(vector: offset, arena: o.offset, count: o.shape.count))
        offset += o.shape.count
        output += 1
      }
      stores.append(copies)
    }
    self.stores = stores
    resultSizes = stores.map { $0.reduce(0) { $0 + $1.count } }
  }

  /// Takes up the calling thread's instance of the plan's code, bound to
  /// this function's task (a no-op for a plan of its own).
  func attach() {
    guard let task, let constants, plan.boundTask != nil else { return }
    plan = constants.rebound(plan, task: task)
  }

  /// A shared plan is this thread's and bound to this task: a function kept
  /// past another task's fetch, or carried to another thread, would
  /// otherwise compute with the other task's values.
  @usableFromInline func checkBinding() {
    precondition(
      plan.isBound(to: task), "a task's function is used unfetched on another thread or task")
  }

  @usableFromInline func load(_ argument: Int, _ values: UnsafePointer<Double>) {
    checkBinding()
    for c in loads[argument] {
      (plan.address(c.arena)).update(from: values + c.vector, count: c.count)
    }
  }

  @usableFromInline func load(_ argument: Int, _ values: [Double]) {
    precondition(values.count == argumentSizes[argument])
    if values.isEmpty { return }
    values.withUnsafeBufferPointer { load(argument, $0.baseAddress!) }
  }

  @usableFromInline func run() {
    checkBinding()
    plan.run()
  }

  /// Fills the plan's minibatch rows with the batches of outer step `outer`
  /// and inner step `inner`; allocates nothing, and nothing without batches.
  public func loadBatches(outer: Int, inner: Int) {
    batches?.load(into: plan, outer: outer, inner: inner)
  }

  /// Reruns instruction by instruction to find where a non-finite value starts.
  public func locateFault() -> NumericFault? { plan.runChecked() }

  @usableFromInline func store(_ result: Int, into values: UnsafeMutablePointer<Double>) {
    for c in stores[result] {
      (values + c.vector).update(from: plan.address(c.arena), count: c.count)
    }
  }

  @usableFromInline func store(_ result: Int, into values: inout [Double]) {
    precondition(values.count == resultSizes[result])
    values.withUnsafeMutableBufferPointer { store(result, into: $0.baseAddress!) }
  }

  /// Adds the result to `values` (accumulating contributions).
  @usableFromInline func accumulate(_ result: Int, into values: inout [Double], scale: Double = 1) {
    precondition(values.count == resultSizes[result])
    values.withUnsafeMutableBufferPointer { v in
      for c in stores[result] {
        let source = plan.address(c.arena)
        for k in 0..<c.count { v[c.vector + k] += scale * source[k] }
      }
    }
  }

  @usableFromInline func result(_ k: Int) -> [Double] {
    var out = [Double](repeating: 0, count: resultSizes[k])
    store(k, into: &out)
    return out
  }

  /// The first entry of a result (for scalar results such as losses).
  @usableFromInline func scalar(_ k: Int) -> Double { plan.address(stores[k][0].arena)[0] }
}

/// The minibatch and episode views one plan reads: where each goes in the
/// arena, the data it gathers rows from, and scratch for the row numbers
/// (owned by the plan, which one thread runs at a time).
final class BatchRows: @unchecked Sendable {
  struct View {
    let source: RowSource
    /// The task whose episode this is (nil for minibatches and shared episodes).
    let task: Int?
    let offset: Int
    let columns: Int
    let data: [Double]
  }
  let streams: [MinibatchStream]
  let episodes: [EpisodeStream]
  let slots: Int
  /// Where each stream's row numbers start in `rows`.
  let starts: [Int]
  let views: [View]
  let rows: UnsafeMutablePointer<Int>
  /// Episode draws: their rows, then the draws' own scratch.
  let episodeRows: UnsafeMutablePointer<Int>
  let episodeScratch: UnsafeMutablePointer<Int>

  init(_ program: Program, _ parameters: [(view: BatchView, task: Int?, offset: Int)]) {
    streams = program.batches
    episodes = program.episodes
    slots = program.tasks?.count ?? 1
    var starts: [Int] = []
    var total = 0
    for s in program.batches {
      starts.append(total)
      total += s.size
    }
    self.starts = starts
    views = parameters.map { p in
      let entry = program.data[p.view.data]
      return View(
        source: p.view.source, task: p.task, offset: p.offset,
        columns: entry.shape.isMatrix ? entry.shape.columns : 1, data: entry.values[0].scalars)
    }
    rows = .allocate(capacity: max(1, total))
    let most = program.episodes.map { $0.ways * max($0.shots, $0.queries) }.max() ?? 0
    let scratch = program.episodes.map(\.scratchSize).max() ?? 0
    episodeRows = .allocate(capacity: max(1, most))
    episodeScratch = .allocate(capacity: max(1, scratch, slots))
  }

  deinit {
    rows.deallocate()
    episodeRows.deallocate()
    episodeScratch.deallocate()
  }

  func load(into plan: Plan, outer: Int, inner: Int) {
    var drawn = 0  // streams are few: a bit mask of those drawn for this load
    for v in views {
      let picked: UnsafeMutablePointer<Int>
      let count: Int
      switch v.source {
      case .batch(let k):
        let s = streams[k]
        picked = rows + starts[k]
        count = s.size
        if drawn & (1 << min(k, 62)) == 0 || k >= 62 {
          s.draw(outer: outer, inner: inner, into: picked)
          drawn |= 1 << min(k, 62)
        }
      case .episode(let k, let query):
        let e = episodes[k]
        let task = e.poolTask(
          outer: outer, slot: v.task ?? 0, slots: slots, scratch: episodeScratch)
        e.rows(task: task, query: query, into: episodeRows, scratch: episodeScratch)
        picked = episodeRows
        count = e.ways * (query ? e.queries : e.shots)
      }
      // A parameter's public offset, not an arena index (constants live outside the arena).
      let base = plan.address(v.offset)
      v.data.withUnsafeBufferPointer { data in
        for k in 0..<count {
          (base + k * v.columns).update(
            from: data.baseAddress! + picked[k] * v.columns, count: v.columns)
        }
      }
    }
  }
}
