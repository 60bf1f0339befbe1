/// Values of the leaves: data entries and variables, by index and task
/// (0-based; nil outside per-task code).
public struct LeafValues {
  public let data: (Int, Int?) -> Tensor
  public let variable: (Int, Int?) -> Tensor
  public let input: (Int, Int?) -> Tensor
  /// Whether a leaf has one value per task.
  public let isPerTask: (Op) -> Bool
  public init(
    data: @escaping (Int, Int?) -> Tensor, variable: @escaping (Int, Int?) -> Tensor,
    input: @escaping (Int, Int?) -> Tensor = { i, _ in
      preconditionFailure("input \(i) has no value")
    },
    isPerTask: @escaping (Op) -> Bool = { _ in false }
  ) {
    self.data = data
    self.variable = variable
    self.input = input
    self.isPerTask = isPerTask
  }
}

extension Program {
  /// The program's data, with variables valued by `variable`.
  public func leafValues(
    variable: @escaping (Int, Int?) -> Tensor,
    input: @escaping (Int, Int?) -> Tensor = { i, _ in
      preconditionFailure("input \(i) has no value")
    }
  )
    -> LeafValues
  {
    let data = self.data
    let perTask = isPerTaskLeaf
    return LeafValues(
      data: { i, t in data[i].perTask ? data[i].values[t!] : data[i].values[0] },
      variable: variable, input: input, isPerTask: perTask)
  }

  /// Whether a leaf has one value per task.
  public var isPerTaskLeaf: @Sendable (Op) -> Bool {
    let data = self.data.map(\.perTask)
    let variables = self.variables.map(\.perTask)
    let inputs = self.inputs.map(\.perTask)
    return { op in
      switch op {
      case .data(let i): return data[i]
      case .variable(let i): return variables[i]
      case .input(let i): return inputs[i]
      default: return false
      }
    }
  }
}

/// The slow, obviously correct evaluator that defines the semantics: every
/// node in ID order, each op by its reference kernel. Faster paths are
/// tested against it.
public enum ReferenceEvaluator {
  /// Values of `roots`. Nodes that vary by task are evaluated once per task
  /// inside each `taskReduce`, or for `task` when one is given.
  public static func evaluate(
    _ graph: Graph, roots: [NodeID], leaves: LeafValues, taskCount: Int, task: Int?
  ) -> [Tensor] {
    let all = evaluateAll(graph, roots: roots, leaves: leaves, taskCount: taskCount, task: task)
    return roots.map { all[$0.index]! }
  }

  /// Values of every node the roots need (nil for the rest), in ID order.
  public static func evaluateAll(
    _ graph: Graph, roots: [NodeID], leaves: LeafValues, taskCount: Int, task: Int?
  ) -> [Tensor?] {
    let needed = graph.reachable(from: roots)
    let varying = graph.taskVarying(isPerTaskLeaf: leaves.isPerTask)
    var values = [Tensor?](repeating: nil, count: graph.count)
    for id in needed {
      let node = graph[id]
      if varying[id] {
        guard let task else { continue }  // evaluated inside its task reduction
        values[id.index] = compute(graph, id, task: task, leaves: leaves) { values[$0.index]! }
        continue
      }
      if case .taskReduce(let r) = node.op {
        let cone = graph.reachable(from: node.inputs).filter { varying[$0] }
        var perTask: [Tensor] = []
        for t in 0..<taskCount {
          var local: [Int: Tensor] = [:]
          for c in cone {
            local[c.index] = compute(graph, c, task: t, leaves: leaves) {
              local[$0.index] ?? values[$0.index]!
            }
          }
          perTask.append(local[node.inputs[0].index] ?? values[node.inputs[0].index]!)
        }
        values[id.index] = reduceTasks(r, perTask)
        continue
      }
      values[id.index] = compute(graph, id, task: nil, leaves: leaves) { values[$0.index]! }
    }
    return values
  }

  static func compute(
    _ graph: Graph, _ id: NodeID, task: Int?, leaves: LeafValues, input: (NodeID) -> Tensor
  ) -> Tensor {
    let node = graph[id]
    switch node.op {
    case .constant(let v): return Tensor(filling: v, shape: node.shape)
    case .literal(let i): return graph.literals[i]
    case .data(let i): return leaves.data(i, task)
    case .variable(let i): return leaves.variable(i, task)
    case .input(let i): return leaves.input(i, task)
    case .taskReduce: preconditionFailure("task reductions are evaluated by evaluateAll")
    default: return node.op.evaluateReference(node.inputs.map(input), shape: node.shape)
    }
  }

  static func reduceTasks(_ r: Reduction, _ values: [Tensor]) -> Tensor {
    var acc = Tensor(filling: 0, shape: values[0].shape)
    for v in values { for k in acc.scalars.indices { acc.scalars[k] += v.scalars[k] } }
    if r == .mean { for k in acc.scalars.indices { acc.scalars[k] /= Double(values.count) } }
    return acc
  }
}
