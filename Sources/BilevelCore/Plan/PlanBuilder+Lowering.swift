extension PlanBuilder {
  /// Hoisted constants: where each sits in the constants region and its values.
  struct ConstantLayout {
    var storage: [Int: Int] = [:]
    var values: [(offset: Int, buffer: ConstantPool.Buffer)] = []
    /// Per instance, its entry when it is a needed constant whose entries
    /// are all the same (fused kernels turn those into immediates).
    var uniform: [Double?]
    var size = 0
    /// The constants that vary by task, by index into `values`, with their pool nodes.
    var perTask: [(index: Int, poolNode: Int)] = []
  }

  /// Variables and inputs, one slot per instance, in the parameters region.
  struct ParameterLayout {
    var storage: [Int: Int] = [:]
    var parameters: [(instance: Int, parameter: Plan.Parameter)] = []
    var size = 0
  }

  /// The computed values in execution order: what each instruction emits and
  /// the work buffers (one per value, plus solve workspaces) it needs.
  struct Schedule {
    var storage: [Storage?]
    var emitted: [(instance: Int, kind: Emission)] = []
    var workBuffers: [(instance: Int?, size: Int)] = []
  }

  enum Emission {
    /// The chain's members in topological order, the root last.
    case fused([Int])
    case single(workspace: Int?)
    /// A row-block product (PlanFusion) writing its u and w too.
    case rowBlock(RowBlockGroup, workspace: Int)
  }

  /// Lowers the collected instances to a plan, pass by pass; in verifying
  /// builds each pass's result is checked before the next reads it.
  mutating func lower() -> Plan {
    let constants = hoistConstants()
    let parameters = placeParameters(excluding: constants)
    let schedule = scheduleComputations(constants: constants, parameters: parameters)
    let placement = allocateWork(schedule)
    let plan = emit(schedule, placement: placement, constants: constants, parameters: parameters)
    // Rebindable to another task when it reads no task's values but its own.
    if case .pool = hoisting, let task, instances.allSatisfy({ $0.task < 0 || $0.task == task }) {
      plan.taskBinding = TaskBinding(task: task, perTaskConstants: constants.perTask)
    }
    plan.verifyInDebugBuilds("plan building")
    return plan
  }

  /// Takes the constants a computed value or an output reads from the
  /// program's pool (or, for the pool's own plans, the reference
  /// evaluator), and lays them out.
  func hoistConstants() -> ConstantLayout {
    let n = instances.count
    var layout = ConstantLayout(uniform: [Double?](repeating: nil, count: n))
    let needed = (0..<n).filter { i in
      !dependsOnParameters[i] && (isRoot[i] || users[i].contains { dependsOnParameters[$0] })
    }
    let buffers: [ConstantPool.Buffer]
    var poolNodes: [Int]? = nil
    switch hoisting {
    case .pool(let pool):
      let keyed = pool.keyedValues(
        needed.map { (NodeID(instances[$0].node), instances[$0].task) }, in: graph)
      buffers = keyed.map(\.buffer)
      poolNodes = keyed.map(\.poolNode)
    case .reference(let inputs):
      buffers = referenceConstants(needed)
      // Inputs read in place: constants to the layout, parameters to the schedule.
      for i in instances.indices {
        guard case .input(let k) = node(i).op else { continue }
        let buffer = inputs(k, instances[i].task < 0 ? nil : instances[i].task)
        layout.storage[i] = layout.size
        layout.values.append((layout.size, buffer))
        layout.size += buffer.count
      }
    }
    for (k, (i, buffer)) in zip(needed, buffers).enumerated() {
      layout.storage[i] = layout.size
      // In a task's plan a per-task value is a binding, so that tasks share its code.
      if let poolNodes, task != nil, instances[i].task >= 0 {
        layout.perTask.append((layout.values.count, poolNodes[k]))
      } else {
        layout.uniform[i] = buffer.uniform
      }
      layout.values.append((layout.size, buffer))
      layout.size += buffer.count
    }
    return layout
  }

  /// The needed constants by the reference evaluator, task by task.
  func referenceConstants(_ needed: [Int]) -> [ConstantPool.Buffer] {
    let leaves = program.leafValues(variable: { _, _ in
      preconditionFailure("constants do not read variables")
    })
    var value: [Int: Tensor] = [:]
    for t in Set(needed.map { instances[$0].task }).sorted() {
      let group = needed.filter { instances[$0].task == t }
      let values = ReferenceEvaluator.evaluateAll(
        graph, roots: group.map { NodeID(instances[$0].node) }, leaves: leaves,
        taskCount: tasks, task: t < 0 ? nil : t)
      for i in group { value[i] = values[instances[i].node] }
    }
    return needed.map { i in
      value[i]!.scalars.withUnsafeBufferPointer { ConstantPool.Buffer(copying: $0) }
    }
  }

  /// Gives every variable and input instance its slot (but inputs read in place).
  func placeParameters(excluding constants: ConstantLayout) -> ParameterLayout {
    var layout = ParameterLayout()
    for i in instances.indices where constants.storage[i] == nil {
      switch node(i).op {
      case .variable, .input:
        layout.storage[i] = layout.size
        layout.parameters.append(
          (
            i,
            Plan.Parameter(
              leaf: node(i).op, task: instances[i].task < 0 ? nil : instances[i].task,
              offset: 0, shape: shape(i))
          ))
        layout.size += shape(i).count
      default: break
      }
    }
    return layout
  }

  /// Orders the computed values (topologically), fuses elementwise chains
  /// and gives every emitted value (and solve workspace) a work buffer.
  func scheduleComputations(constants: ConstantLayout, parameters: ParameterLayout) -> Schedule {
    var schedule = Schedule(
      storage: instances.indices.map { i in
        if let c = constants.storage[i] { return .constant(c) }
        return parameters.storage[i].map { .parameter($0) }
      })
    // Row-block products run right after the last value they read; what
    // they compute is not emitted again.
    let groups = rowBlockGroups()
    var groupsAfter: [Int: [RowBlockGroup]] = [:]
    for (after, g) in groups { groupsAfter[after, default: []].append(g) }
    let inGroup = Set(groups.flatMap { [$0.group.product] + $0.group.written })
    for i in instances.indices {
      if dependsOnParameters[i] && schedule.storage[i] == nil {
        schedule.storage[i] = isInlined(i) ? .inlined : .work(schedule.workBuffers.count)
        if !isInlined(i) { schedule.workBuffers.append((i, shape(i).count)) }
        if !isInlined(i) && !inGroup.contains(i) {
          let kind = emission(i, &schedule)
          schedule.emitted.append((i, kind))
        }
      }
      for g in groupsAfter[i] ?? [] {
        let s = shape(g.matrix)
        let registers = g.kernels.map(\.count).max()!
        schedule.emitted.append((g.product, .rowBlock(g, workspace: schedule.workBuffers.count)))
        schedule.workBuffers.append(
          (
            nil,
            RowBlockFusion.workspaceSize(rows: s.rows, columns: s.columns, registers: registers)
          ))
      }
    }
    return schedule
  }

  /// How a computed value that is not inlined is emitted (a solve's
  /// workspace appended to the work buffers).
  func emission(_ i: Int, _ schedule: inout Schedule) -> Emission {
    if PlanBuilder.isElementwise(node(i).op)
      || (PlanBuilder.isFusibleReduction(node(i).op) && isInlined(inputs[i][0]))
    {
      return .fused(fusedMembers(i))
    }
    var scratch: Int? = nil
    if case .solve = node(i).op {
      scratch = schedule.workBuffers.count
      let size = shape(inputs[i][0]).rows
      let b = shape(inputs[i][1])
      schedule.workBuffers.append(
        (nil, Plan.solveWorkspace(n: size, rhs: b.isMatrix ? b.columns : 1)))
    }
    return .single(workspace: scratch)
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
