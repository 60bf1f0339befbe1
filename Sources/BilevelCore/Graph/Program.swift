import BilevelFrontEnd

/// A checked bilevel program: the graph, its data and variables, its losses
/// and its validated solver settings. Everything later stages need.
public struct Program: Sendable {
  public var file: SourceFile
  public var graph = Graph()
  public var dims: [(name: String, value: Int)] = []
  public var tasks: TaskRange?
  public var data: [DataEntry] = []
  /// Each CSV file read, with the delimiter it was found to use (for explain).
  public var csvFiles: [(path: String, delimiter: CSVDelimiter, shape: Shape)] = []
  public var variables: [Variable] = []
  public var innerLoss: NodeID?
  public var innerFixpoint: Fixpoint?
  public var outerLoss: NodeID?
  /// Where each loss is written: the graph is hash-consed, so a loss node's
  /// origin may be an identical expression written earlier.
  public var innerLossRange: SourceRange?
  public var outerLossRange: SourceRange?
  /// `outer loss = … over trajectory`: the meta-objective is Σ_{t=1..T} L_out(θ_t, φ) (survey eq. 12).
  public var outerTrajectory: SourceRange?
  /// `over trajectory(weights: w)`: w_1 … w_T, and where w is named (nil: every w_t = 1).
  public var outerTrajectoryWeights: (values: [Double], range: SourceRange)?
  public var innerSolver: SolverStatement<InnerSolverSpec<NodeID>>?
  /// `start: warm`: each outer step's inner solve continues the previous one.
  public var innerStart = InnerStart.cold
  /// Schedules, clipping and tolerances of the inner and outer solvers (StepControls).
  public var innerControls = StepControls()
  public var outerControls = StepControls()
  public var hypergradient: SolverStatement<MethodChoice>?
  public var outerSolver: SolverStatement<OuterSolverSpec>?
  /// Values supplied at evaluation time (directions, cotangents).
  public var inputs: [InputEntry] = []
  /// The input (an index into `inputs`) that stands for ∇θ L_in in a
  /// `rule` solver's update.
  public var ruleGradientInput: Int?
  /// A `rule` solver's recurrent state (`state h: ... = 0 then ...`), in
  /// declaration order: part of the unrolled step state after θ.
  public var ruleStates: [RuleState] = []
  /// Named subexpressions, for printing and the REPL.
  public var lets: [(name: String, node: NodeID, perTask: Bool)] = []

  /// `report NAME = EXPR` statements, in order: scalars of θ (all tasks) and φ.
  public var reports: [ReportStatement] = []
  /// `proxy` statements, in order: θ ≈ P_α(φ) per inner variable.
  public var proxies: [ProxyDeclaration] = []

  /// `batch` statements, and every `X[b, :]` / `y[b]` they select (each an input leaf).
  public var batches: [MinibatchStream] = []
  public var batchViews: [BatchView] = []
  /// `episodes` statements: N-way K-shot tasks drawn from a pool.
  public var episodes: [EpisodeStream] = []

  /// The batch view behind an input leaf, if it is one.
  public func batchView(input: Int) -> BatchView? { batchViews.first { $0.input == input } }

  /// The inner step whose batch every plan but the step's own reads (the
  /// gradients, Hessian and mixed products at the solution, the outer loss,
  /// reports): the last inner step's, as the solution was reached on it.
  public var heldInnerStep: Int { max(0, (innerSolver?.spec.fixedSteps ?? 1) - 1) }

  /// The rows of a batch view at (outer step, inner step), as a tensor (the
  /// reference evaluator's value of the view's input leaf).
  public func batchValue(_ view: BatchView, outer: Int, inner: Int, task: Int?) -> Tensor {
    let entry = data[view.data].values[0]
    let columns = entry.shape.isMatrix ? entry.shape.columns : 1
    let rows: [Int]
    switch view.source {
    case .batch(let k): rows = batches[k].rows(outer: outer, inner: inner)
    case .episode(let k, let query):
      let e = episodes[k]
      let slots = tasks?.count ?? 1
      let poolTask = e.poolTasks(outer: outer, slots: slots)[task ?? 0]
      rows = e.rows(task: poolTask, query: query)
    }
    var scalars: [Double] = []
    scalars.reserveCapacity(rows.count * columns)
    for r in rows { scalars += entry.scalars[(r * columns)..<((r + 1) * columns)] }
    let shape: Shape = entry.shape.isMatrix ? .matrix(rows.count, columns) : .vector(rows.count)
    return Tensor(shape: shape, scalars: scalars)
  }

  public init(file: SourceFile) { self.file = file }

  /// Every node a later stage may evaluate, in a fixed order.
  public var roots: [NodeID] {
    var r: [NodeID] = []
    for v in variables {
      r.append(v.initial)
      if let b = v.bounds { r.append(contentsOf: [b.lower, b.upper]) }
    }
    if let l = innerLoss { r.append(l) }
    if let f = innerFixpoint { r.append(f.map) }
    if let l = outerLoss { r.append(l) }
    r += innerSolver?.spec.expressions ?? []
    r += ruleStates.flatMap { [$0.initial, $0.next] }
    r += reports.map(\.node)
    for p in proxies { r += [p.map] + p.parameters.map(\.initial) }
    return r
  }

  public func variables(_ level: Level) -> [Int] {
    variables.indices.filter { variables[$0].level == level }
  }

  /// No inner variables, loss, fixpoint or solver: the outer loss is
  /// minimised directly (any base learner is solved in the program itself).
  public var isSingleLevel: Bool {
    variables(.inner).isEmpty && innerLoss == nil && innerFixpoint == nil && innerSolver == nil
  }

  /// Total entries of the inner (d) or outer (m) variables, per task.
  public func size(_ level: Level) -> Int {
    variables(level).reduce(0) { $0 + variables[$1].shape.count }
  }
}

/// One recurrent state of a `rule` solver, shaped per coordinate of the
/// inner variable: `previous` is the input leaf that stands for its value
/// before a step, `next` its value after (reading `grad`, θ, φ and states).
public struct RuleState: Sendable {
  public let name: String
  public let shape: Shape
  public let perTask: Bool
  /// A constant start (data, no variables).
  public let initial: NodeID
  /// Index into `Program.inputs`.
  public let previous: Int
  public let next: NodeID
  public let range: SourceRange
  public init(
    name: String, shape: Shape, perTask: Bool, initial: NodeID, previous: Int, next: NodeID,
    range: SourceRange
  ) {
    self.name = name
    self.shape = shape
    self.perTask = perTask
    self.initial = initial
    self.previous = previous
    self.next = next
    self.range = range
  }

  func mapped(_ f: (NodeID) -> NodeID) -> RuleState {
    RuleState(
      name: name, shape: shape, perTask: perTask, initial: f(initial), previous: previous,
      next: f(next), range: range)
  }
}

public struct InputEntry: Sendable {
  public let name: String
  public let shape: Shape
  public let perTask: Bool
  public init(name: String, shape: Shape, perTask: Bool) {
    self.name = name
    self.shape = shape
    self.perTask = perTask
  }
}

public struct TaskRange: Sendable {
  public let index: String
  public let count: Int
}

public struct DataEntry: Sendable {
  public let name: String
  public let shape: Shape
  /// One tensor, or one per task.
  public let values: [Tensor]
  public let perTask: Bool
  public let range: SourceRange
  /// The defining expression as written, for dumps.
  public let definition: String
  /// How each task's value was computed, for emitters that recompute the
  /// data elsewhere (`--emit jax`); empty for the task index.
  public var recipes: [DataRecipe] = []
}

/// One data value's computation: its expression's scratch graph, where
/// earlier data are `.data` leaves, and the file or generator behind each
/// of its literals.
public struct DataRecipe: Sendable {
  public let graph: Graph
  public let root: NodeID
  /// Literal index (in `graph`) → where its tensor came from; a literal
  /// not listed was written in the program.
  public let sources: [Int: DataSource]
}

public enum DataSource: Sendable, Hashable {
  /// A path as written (the task number filled in), relative to the program.
  case csv(String)
  case npy(String)
  case uniform(Shape, seed: UInt64)
  case normal(Shape, seed: UInt64)
  /// Task `task`'s value (0-based) of the per-task data entry at that index.
  case entry(Int, task: Int)
}

public struct Variable: Sendable {
  public let name: String
  public let level: Level
  public let shape: Shape
  public let perTask: Bool
  /// The initial value: a node of data, and for inner variables of outer ones.
  public let initial: NodeID
  public let bounds: (lower: NodeID, upper: NodeID)?
  public let range: SourceRange

  public init(
    name: String, level: Level, shape: Shape, perTask: Bool, initial: NodeID,
    bounds: (lower: NodeID, upper: NodeID)?, range: SourceRange
  ) {
    self.name = name
    self.level = level
    self.shape = shape
    self.perTask = perTask
    self.initial = initial
    self.bounds = bounds
    self.range = range
  }
}

public struct Fixpoint: Sendable {
  public let variable: Int
  public let map: NodeID
  public let range: SourceRange
}

/// A validated `solve ... with` or `hypergradient with` statement: its
/// typed spec, and every setting as bound (defaults included), for printing.
public struct SolverStatement<Spec: Sendable>: Sendable {
  public let spec: Spec
  public let name: String
  public let settings: [(name: String, value: SettingValue)]
  public let range: SourceRange

  public init(
    spec: Spec, name: String, settings: [(name: String, value: SettingValue)], range: SourceRange
  ) {
    self.spec = spec
    self.name = name
    self.settings = settings
    self.range = range
  }
}

public typealias SettingValue = BoundValue<NodeID>

extension SolverStatement {
  /// Where setting `name: value` is written in the statement (name through
  /// value), so a fault the setting causes points at it; nil when defaulted.
  public func settingRange(_ name: String) -> SourceRange? {
    let text = Array(range.text.utf8)
    let key = Array(name.utf8)
    var depth = 0
    var i = 0
    while i < text.count {
      let c = text[i]
      if c == UInt8(ascii: "(") || c == UInt8(ascii: "[") { depth += 1 }
      if c == UInt8(ascii: ")") || c == UInt8(ascii: "]") { depth -= 1 }
      let boundary = i == 0 || !(text[i - 1] == UInt8(ascii: "_") || isAlnum(text[i - 1]))
      if depth == 1, boundary, text[i...].starts(with: key) {
        var j = i + key.count
        while j < text.count && text[j] == UInt8(ascii: " ") { j += 1 }
        if j < text.count && text[j] == UInt8(ascii: ":") {
          var end = j + 1
          var inner = 0
          while end < text.count {
            let d = text[end]
            if d == UInt8(ascii: "(") || d == UInt8(ascii: "[") { inner += 1 }
            if d == UInt8(ascii: ")") || d == UInt8(ascii: "]") {
              if inner == 0 { break }
              inner -= 1
            }
            if d == UInt8(ascii: ","), inner == 0 { break }
            end += 1
          }
          while end > j + 1 && text[end - 1] == UInt8(ascii: " ") { end -= 1 }
          return SourceRange(file: range.file, start: range.start + i, end: range.start + end)
        }
      }
      i += 1
    }
    return nil
  }
}

private func isAlnum(_ c: UInt8) -> Bool {
  (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
    || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
    || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
}

/// A metric the run evaluates at every outer step; never differentiated.
public struct ReportStatement: Sendable {
  public let name: String
  public let node: NodeID
  public let range: SourceRange
  public init(name: String, node: NodeID, range: SourceRange) {
    self.name = name
    self.node = node
    self.range = range
  }
}

/// `proxy w = EXPR with params ...`: the map P_α(φ) standing for one inner
/// variable, and its parameters α (input leaves the proxy method trains).
public struct ProxyDeclaration: Sendable {
  public struct Parameter: Sendable {
    public let name: String
    /// Its index in `Program.inputs`.
    public let input: Int
    public let shape: Shape
    /// The start of training: a node of constants and data.
    public let initial: NodeID
    public let range: SourceRange
  }
  /// The inner variable's index in `Program.variables`.
  public let variable: Int
  public let map: NodeID
  public let parameters: [Parameter]
  public let range: SourceRange

  /// The same declaration with its nodes renamed (after a rewrite).
  func remapped(_ f: (NodeID) -> NodeID) -> ProxyDeclaration {
    ProxyDeclaration(
      variable: variable, map: f(map),
      parameters: parameters.map {
        Parameter(
          name: $0.name, input: $0.input, shape: $0.shape, initial: f($0.initial), range: $0.range)
      }, range: range)
  }
}
