/// Which nodes depend, through their inputs, on chosen source nodes: a
/// backward slice, computed forward in one pass because node IDs are a
/// topological order. The one answer to "does this vary by task", "does
/// this read a parameter" and "is this on a path from a `wrt` leaf".
public struct Dependence {
  let isSource: (NodeID, Op) -> Bool
  /// A task reduction's value is the same for every task, so with this set
  /// dependence on per-task sources stops there.
  let endsAtTaskReductions: Bool
  var depends: [Bool] = []

  public init(endsAtTaskReductions: Bool = false, sources isSource: @escaping (NodeID, Op) -> Bool)
  {
    self.isSource = isSource
    self.endsAtTaskReductions = endsAtTaskReductions
  }

  /// Answers for the nodes added since the last call as well: a graph only
  /// grows, and earlier answers do not change.
  public mutating func extend(to graph: Graph) {
    for i in depends.count..<graph.count {
      let id = NodeID(i)
      let node = graph[id]
      if endsAtTaskReductions, case .taskReduce = node.op {
        depends.append(false)
      } else {
        depends.append(isSource(id, node.op) || node.inputs.contains { depends[$0.index] })
      }
    }
  }

  public subscript(id: NodeID) -> Bool { depends[id.index] }
}

extension Graph {
  /// Dependence on the nodes whose op `isSource` picks.
  public func dependence(on isSource: @escaping (Op) -> Bool) -> Dependence {
    var d = Dependence { _, op in isSource(op) }
    d.extend(to: self)
    return d
  }

  /// Dependence on the given nodes.
  public func dependence(onNodes sources: [NodeID]) -> Dependence {
    var isSource = [Bool](repeating: false, count: count)
    for s in sources { isSource[s.index] = true }
    var d = Dependence { id, _ in id.index < isSource.count && isSource[id.index] }
    d.extend(to: self)
    return d
  }

  /// Nodes whose value varies by task: they depend on a per-task leaf, not
  /// counting what a task reduction folds away.
  public func taskVarying(isPerTaskLeaf: @escaping (Op) -> Bool) -> Dependence {
    var d = Dependence(endsAtTaskReductions: true) { _, op in isPerTaskLeaf(op) }
    d.extend(to: self)
    return d
  }

  /// Nodes that read a variable or an input: everything else can be
  /// computed once, before any solver loop.
  public func parameterDependence() -> Dependence {
    var d = Dependence.onParameters
    d.extend(to: self)
    return d
  }
}

extension Dependence {
  /// Dependence on variables and inputs, not yet extended over any graph.
  static var onParameters: Dependence {
    Dependence { _, op in
      switch op {
      case .variable, .input: return true
      default: return false
      }
    }
  }
}
