extension PlanBuilder {
  /// Storage, fusion, instruction selection and the memory plan.
  mutating func lower() -> Plan {
    let n = instances.count
    var storage = [Storage?](repeating: nil, count: n)
    // Constants: evaluated now, by task, with the reference evaluator. Only
    // those a computed value or an output reads need a place in the arena.
    var constantValues: [(offset: Int, values: [Double])] = []
    var constantSize = 0
    var constantValue = [Tensor?](repeating: nil, count: n)
    let neededConstants = (0..<n).filter { i in
      !dependsOnParameters[i] && (isRoot[i] || users[i].contains { dependsOnParameters[$0] })
    }
    let leaves = program.leafValues(variable: { _, _ in preconditionFailure("constants do not read variables") })
    for t in Set(neededConstants.map { instances[$0].task }).sorted() {
      let group = neededConstants.filter { instances[$0].task == t }
      let values = ReferenceEvaluator.evaluateAll(graph, roots: group.map { NodeID(instances[$0].node) }, leaves: leaves,
                                                  taskCount: tasks, task: t < 0 ? nil : t)
      for i in group { constantValue[i] = values[instances[i].node] }
    }
    for i in neededConstants {
      storage[i] = .constant(constantSize)
      constantValues.append((constantSize, constantValue[i]!.scalars))
      constantSize += shape(i).count
    }
    // Parameters: variables and inputs, one slot per instance.
    var parameters: [(Int, Plan.Parameter)] = []
    var parameterSize = 0
    for i in 0..<n {
      switch node(i).op {
      case .variable, .input:
        storage[i] = .parameter(parameterSize)
        parameters.append((i, Plan.Parameter(leaf: node(i).op, task: instances[i].task < 0 ? nil : instances[i].task,
                                             offset: 0, shape: shape(i))))
        parameterSize += shape(i).count
      default: break
      }
    }
    // Computed values: fused chains and single ops.
    var emitted: [(instance: Int, kind: Emission)] = []
    var workBuffers: [(instance: Int?, size: Int)] = []
    var workIndex = [Int?](repeating: nil, count: n)
    for i in 0..<n where dependsOnParameters[i] && storage[i] == nil {
      if isInlined(i) {
        storage[i] = .inlined
        continue
      }
      workIndex[i] = workBuffers.count
      storage[i] = .work(workBuffers.count)
      workBuffers.append((i, shape(i).count))
      if PlanBuilder.isElementwise(node(i).op)
        || (PlanBuilder.isFusibleReduction(node(i).op) && isInlined(inputs[i][0]))
      {
        emitted.append((i, .fused(fusedMembers(i))))
      } else {
        var scratch: Int? = nil
        if case .solve = node(i).op {
          scratch = workBuffers.count
          let size = shape(inputs[i][0]).rows
          let b = shape(inputs[i][1])
          workBuffers.append((nil, Plan.solveWorkspace(n: size, rhs: b.isMatrix ? b.columns : 1)))
        }
        emitted.append((i, .single(workspace: scratch)))
      }
    }
    return assemble(storage: storage, emitted: emitted, workBuffers: workBuffers, constantValues: constantValues,
                    constantSize: constantSize, constantValue: constantValue, parameters: parameters, parameterSize: parameterSize)
  }

  enum Emission {
    /// The chain's members in topological order, the root last.
    case fused([Int])
    case single(workspace: Int?)
  }

  /// The instances one fused kernel computes, ending with `root`.
  func fusedMembers(_ root: Int) -> [Int] {
    var members: Set<Int> = [root]
    var frontier = [root]
    while let m = frontier.popLast() {
      for j in inputs[m] where isInlined(j) && !members.contains(j) {
        members.insert(j)
        frontier.append(j)
      }
    }
    return members.sorted()
  }
}
