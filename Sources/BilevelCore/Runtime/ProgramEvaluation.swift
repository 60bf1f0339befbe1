/// Evaluates a program's nodes at a point (by default its initial point)
/// with the reference evaluator.
public struct ProgramEvaluation {
  public let program: Program
  /// Per variable: one tensor, or one per task.
  public private(set) var variableValues: [[Tensor]]

  /// The initial point: outer variables from their initial values, then
  /// inner ones (which may start from outer ones), in declaration order.
  public init(initialPointOf program: Program) {
    self.program = program
    self.variableValues = []
    for v in program.variables {
      let tasks = v.perTask ? program.tasks!.count : 1
      var values: [Tensor] = []
      for t in 0..<tasks {
        values.append(evaluate(v.initial, task: v.perTask ? t : nil))
      }
      variableValues.append(values)
    }
  }

  public var taskCount: Int { program.tasks?.count ?? 1 }

  public var leaves: LeafValues {
    let values = variableValues
    let variables = program.variables
    let p = program
    // Minibatch views hold the batch of outer step 0 (as `check` and `grad` do).
    return program.leafValues(
      variable: { i, t in variables[i].perTask ? values[i][t!] : values[i][0] },
      input: { i, t in
        guard let view = p.batchView(input: i) else {
          preconditionFailure("input \(i) has no value")
        }
        return p.batchValue(view, outer: 0, inner: p.heldInnerStep, task: t)
      })
  }

  /// The value of one node; `task` for nodes that vary by task.
  public func evaluate(_ node: NodeID, task: Int? = nil) -> Tensor {
    ReferenceEvaluator.evaluate(
      program.graph, roots: [node], leaves: leaves, taskCount: taskCount, task: task)[0]
  }

  /// Whether a node varies by task (depends on per-task leaves outside a task reduction).
  public func isPerTask(_ node: NodeID) -> Bool {
    program.graph.taskVarying(isPerTaskLeaf: program.isPerTaskLeaf)[node]
  }

  /// The first node, in evaluation order, whose value is NaN or infinite
  /// although its inputs are finite: where numerical trouble starts.
  public func firstNonFinite(_ root: NodeID, task: Int? = nil) -> NodeID? {
    let values = ReferenceEvaluator.evaluateAll(
      program.graph, roots: [root], leaves: leaves, taskCount: taskCount, task: task)
    for id in program.graph.reachable(from: [root]) {
      guard let v = values[id.index], v.scalars.contains(where: { !$0.isFinite }) else { continue }
      let inputsFinite = program.graph[id].inputs.allSatisfy { input in
        values[input.index].map { $0.scalars.allSatisfy(\.isFinite) } ?? true
      }
      if inputsFinite { return id }
    }
    return nil
  }
}
