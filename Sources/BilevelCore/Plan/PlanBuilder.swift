/// Lowers a graph to a plan: instances per task, constants hoisted and
/// evaluated once, elementwise chains fused, one instruction per remaining
/// node in topological order, and a memory plan for the work region.
public struct PlanBuilder {
  /// A node for one task (task −1: the same for every task).
  struct Instance: Hashable {
    let node: Int
    let task: Int
  }

  enum Storage {
    case constant(Int)
    case parameter(Int)
    /// Index into the work buffers.
    case work(Int)
    /// Inlined into a fused kernel: no storage of its own.
    case inlined
  }

  /// How values of data alone are computed: by the program's shared pool
  /// (plan kernels, once per program), or by the reference evaluator (the
  /// pool's own plans, whose only such values are literals and constants;
  /// they read their inputs, the data, in place from the pool's buffers).
  enum Hoisting {
    case pool(ConstantPool)
    case reference(inputs: (_ input: Int, _ task: Int?) -> ConstantPool.Buffer)
  }

  let program: Program
  let hoisting: Hoisting
  var graph: Graph { program.graph }
  let roots: [NodeID]
  let task: Int?
  let tasks: Int
  var instances: [Instance] = []
  var index: [Instance: Int] = [:]
  var inputs: [[Int]] = []
  var users: [[Int]] = []
  var isRoot: [Bool] = []
  var dependsOnParameters: [Bool] = []
  /// Whether product pairs are fused into row-block products (PlanFusion).
  var fusesRowBlocks = true

  /// Builds the plan that computes `roots` (for `task`, for roots that vary
  /// by task). With `reassociate`, products are distributed and reassociated
  /// so that work on data alone is hoisted (Reassociation.swift). Values
  /// of data alone come from `constants`, the program's shared pool (a
  /// fresh one when none is given), which also keeps the code of per-task
  /// plans: a root's plan for another task is an instance of the same code
  /// (PlanSharing.swift).
  /// `fuseRowBlocks: false` keeps the product pairs PlanFusion would merge
  /// apart (the tests' and the benchmark's reference).
  public static func build(
    _ program: Program, roots: [NodeID], task: Int? = nil, reassociate: Bool = true,
    constants: ConstantPool? = nil, fuseRowBlocks: Bool = true
  ) -> Plan {
    let pool = constants ?? ConstantPool(program)
    let make = {
      build(
        program, roots: roots, task: task, reassociate: reassociate, hoisting: .pool(pool),
        fuseRowBlocks: fuseRowBlocks)
    }
    guard let task, constants != nil else { return make() }
    return pool.plan(
      .init(roots: roots, reassociate: reassociate, fuseRowBlocks: fuseRowBlocks), task: task,
      build: make)
  }

  static func build(
    _ program: Program, roots: [NodeID], task: Int?, reassociate: Bool, hoisting: Hoisting,
    fuseRowBlocks: Bool = true
  ) -> Plan {
    var program = program
    var roots = roots
    var rewrites: [(rule: String, count: Int)] = []
    // Plan node → caller's node (the first that maps to it).
    var back: [NodeID: NodeID]?
    if reassociate {
      let r = Simplifier.simplify(
        program.graph, roots: program.roots + roots, extraRules: Reassociation.rules)
      program.graph = r.graph
      program.remap { r.mapping[$0]! }
      roots = roots.map { r.mapping[$0]! }
      rewrites = r.fired.filter { f in Reassociation.rules.contains { $0.name == f.rule } }
      back = [:]
      for (old, new) in r.mapping where back![new].map({ old < $0 }) ?? true { back![new] = old }
    }
    var b = PlanBuilder(
      program: program, hoisting: hoisting, roots: roots, task: task,
      tasks: program.tasks?.count ?? 1)
    b.fusesRowBlocks = fuseRowBlocks
    b.collectInstances()
    let plan = b.lower()
    plan.rewrites = rewrites
    let source: (NodeID) -> NodeID? = { id in back.map { $0[id] } ?? id }
    plan.sourceNodes = plan.provenance.map(source)
    plan.sourceStepNodes = plan.fused.map { $0.nodes.map(source) }
    plan.rowValueSourceNodes = plan.rowValueNodes.map { $0.map(source) }
    return plan
  }

  /// Which (node, task) pairs the roots need, in topological order.
  mutating func collectInstances() {
    let needed = graph.reachable(from: roots)
    let varying = graph.taskVarying(isPerTaskLeaf: program.isPerTaskLeaf)
    var tasksOf = [Set<Int>](repeating: [], count: graph.count)
    for r in roots { tasksOf[r.index].insert(varying[r] ? (task ?? 0) : -1) }
    for id in needed.reversed() {
      let node = graph[id]
      for t in tasksOf[id.index] {
        for input in node.inputs {
          if case .taskReduce = node.op, varying[input] {
            for k in 0..<tasks { tasksOf[input.index].insert(k) }
          } else {
            tasksOf[input.index].insert(varying[input] ? t : -1)
          }
        }
      }
    }
    for id in needed {
      for t in tasksOf[id.index].sorted() {
        index[Instance(node: id.index, task: t)] = instances.count
        instances.append(Instance(node: id.index, task: t))
      }
    }
    let depends = graph.parameterDependence()
    dependsOnParameters = instances.map { depends[NodeID($0.node)] }
    inputs = instances.map { inst in
      let node = graph[NodeID(inst.node)]
      if case .taskReduce = node.op, varying[node.inputs[0]] {
        return (0..<tasks).map { index[Instance(node: node.inputs[0].index, task: $0)]! }
      }
      return node.inputs.map {
        index[Instance(node: $0.index, task: varying[$0] ? inst.task : -1)]!
      }
    }
    users = Array(repeating: [], count: instances.count)
    for (i, ins) in inputs.enumerated() { for j in ins { users[j].append(i) } }
    isRoot = Array(repeating: false, count: instances.count)
    for r in roots {
      isRoot[index[Instance(node: r.index, task: varying[r] ? (task ?? 0) : -1)]!] = true
    }
  }

  func node(_ i: Int) -> Node { graph[NodeID(instances[i].node)] }
  func shape(_ i: Int) -> Shape { node(i).shape }

  static func isElementwise(_ op: Op) -> Bool {
    switch op {
    case .unary, .binary, .broadcast: return true
    default: return false
    }
  }

  /// Computed values that another fused step can absorb: elementwise, used
  /// once, by an elementwise op of the same shape or by a whole sum or mean
  /// (which then accumulates block by block), and not an output.
  func isInlined(_ i: Int) -> Bool {
    guard dependsOnParameters[i], !isRoot[i], PlanBuilder.isElementwise(node(i).op),
      users[i].count == 1
    else { return false }
    let u = users[i][0]
    guard dependsOnParameters[u] else { return false }
    return (PlanBuilder.isElementwise(node(u).op) && shape(u) == shape(i))
      || PlanBuilder.isFusibleReduction(node(u).op)
  }

  /// Reductions a fused kernel can end with.
  static func isFusibleReduction(_ op: Op) -> Bool {
    op == .reduce(.sum, .all) || op == .reduce(.mean, .all)
  }
}
