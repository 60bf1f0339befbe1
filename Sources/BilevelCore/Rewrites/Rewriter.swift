/// Builds nodes into a graph, normalising each by the rewrite rules before
/// it is interned. Because inputs are normalised first, one pass over a
/// graph in ID order simplifies it bottom-up to a fixpoint.
public struct Rewriter {
  public internal(set) var graph: Graph
  let rules: [RewriteRule]
  /// How often each rule fired, by name, in first-fired order.
  public private(set) var fired: [(rule: String, count: Int)] = []
  var depth = 0

  /// Whether each node depends on a variable or input (extended as the graph grows).
  var parameterDependence = Dependence.onParameters

  public init(graph: Graph = Graph(), unsafeMath: Bool = false, extraRules: [RewriteRule] = []) {
    self.graph = graph
    self.rules = RewriteRules.all.filter { unsafeMath || !$0.changesIEEEResults } + extraRules
  }

  /// True when the node reads no variable and no input: it can be computed
  /// once, before any solver loop.
  public mutating func isParameterFree(_ id: NodeID) -> Bool {
    parameterDependence.extend(to: graph)
    return !parameterDependence[id]
  }

  /// The normal form of `op(inputs)`.
  public mutating func node(_ op: Op, _ inputs: [NodeID] = [], shape: Shape? = nil) -> NodeID {
    let candidate = graph.make(op, inputs, shape: shape)
    // Rules rebuild through `node`, so their results are normal too; the
    // depth bound is a guard against a rule pair that undoes each other.
    guard depth < 64 else { return candidate }
    depth += 1
    defer { depth -= 1 }
    let n = graph[candidate]
    for rule in rules {
      if let result = rule.apply(&self, n), result != candidate {
        record(rule.name)
        return result
      }
    }
    return candidate
  }

  mutating func record(_ name: String) {
    if let i = fired.firstIndex(where: { $0.rule == name }) {
      fired[i].count += 1
    } else {
      fired.append((name, 1))
    }
  }

  // Helpers for rules.
  func value(_ id: NodeID) -> Double? { graph.uniformConstant(id) }
  func isConstant(_ id: NodeID, _ v: Double) -> Bool {
    value(id).map { $0.bitPattern == v.bitPattern || ($0 == v && v != 0) } ?? false
  }
  func isZero(_ id: NodeID) -> Bool { value(id) == 0 }
  func shape(_ id: NodeID) -> Shape { graph.shape(id) }
  func op(_ id: NodeID) -> Op { graph[id].op }

  /// `x` repeated to `shape` (no node when it already has that shape).
  public mutating func broadcast(_ x: NodeID, to shape: Shape) -> NodeID {
    if graph.shape(x) == shape { return x }
    if let v = value(x) { return graph.constant(v, shape: shape) }
    return node(.broadcast, [x], shape: shape)
  }
}

/// Simplifies the cone of `roots` into a fresh graph.
public enum Simplifier {
  public struct Result {
    public let graph: Graph
    public let roots: [NodeID]
    /// Old node ID → new node ID, for the nodes that were reached.
    public let mapping: [NodeID: NodeID]
    public let fired: [(rule: String, count: Int)]
  }

  public static func simplify(
    _ graph: Graph, roots: [NodeID], unsafeMath: Bool = false, extraRules: [RewriteRule] = []
  ) -> Result {
    graph.verifyInDebugBuilds(after: "graph construction (before simplification)")
    var rw = Rewriter(unsafeMath: unsafeMath, extraRules: extraRules)
    var map: [NodeID: NodeID] = [:]
    for id in graph.reachable(from: roots) {
      let n = graph[id]
      let inputs = n.inputs.map { map[$0]! }
      let new: NodeID
      if case .literal(let i) = n.op {
        new = rw.graph.literal(graph.literals[i])
      } else if n.op.isLeaf {
        new = rw.graph.make(n.op, shape: n.shape)
      } else {
        new = rw.node(n.op, inputs, shape: n.shape)
      }
      rw.graph.inheritOrigin(new, from: graph.origin(id), derivation: graph.derivation(id))
      map[id] = new
    }
    rw.graph.verifyInDebugBuilds(after: "simplification")
    return Result(graph: rw.graph, roots: roots.map { map[$0]! }, mapping: map, fired: rw.fired)
  }
}
