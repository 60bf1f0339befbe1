extension PlanBuilder {
  /// Where the work buffers go: the memory plan and each buffer's liveness.
  struct WorkPlacement {
    let buffers: [MemoryPlanner.Buffer]
    let placement: MemoryPlanner.Placement
  }

  /// The encoded program and the tables its instructions index.
  struct Code {
    var instructions: [Instruction] = []
    var fused: [FusedKernel] = []
    var slices: [SliceSpec] = []
    var operandLists: [[Int]] = []
    var concatLists: [[ConcatPart]] = []
    var rowBlockProducts: [RowBlockFusion] = []
    var rowValueNodes: [[NodeID]] = []
    var provenance: [NodeID] = []
    var fusedOps = 0
    /// Steps of the kernels emitted so far (a scalar kernel's index in the flattened table).
    var steps = 0
  }

  /// Computes each work buffer's liveness (first and last instruction that
  /// touches it; outputs live to the end) and places the buffers.
  func allocateWork(_ schedule: Schedule) -> WorkPlacement {
    let count = schedule.workBuffers.count
    var first = [Int](repeating: Int.max, count: count)
    var last = [Int](repeating: -1, count: count)
    func workBuffer(_ j: Int) -> Int? {
      if case .work(let w)? = schedule.storage[j] { return w }
      return nil
    }
    for (k, e) in schedule.emitted.enumerated() {
      var written = [workBuffer(e.instance)!]
      let reads: [Int]
      switch e.kind {
      case .fused(let members): reads = members.flatMap { inputs[$0] }
      case .single(let scratch):
        reads = inputs[e.instance]
        if let s = scratch { written.append(s) }
      case .rowBlock(let g, let scratch):
        reads =
          inputs[e.instance] + g.rowValues.flatMap { inputs[$0] }
          + g.kernels.joined().flatMap { inputs[$0] }
        written += g.written.map { workBuffer($0)! } + [scratch]
      }
      for w in written {
        first[w] = min(first[w], k)
        last[w] = max(last[w], k)
      }
      for j in reads { if let r = workBuffer(j) { last[r] = max(last[r], k) } }
    }
    for (w, b) in schedule.workBuffers.enumerated() {
      if let i = b.instance, isRoot[i] { last[w] = schedule.emitted.count - 1 }
      if first[w] == Int.max { first[w] = 0 }
      last[w] = max(last[w], first[w])
    }
    let buffers = schedule.workBuffers.indices.map {
      MemoryPlanner.Buffer(
        size: schedule.workBuffers[$0].size, firstUse: first[$0], lastUse: last[$0])
    }
    let placement = MemoryPlanner.place(buffers)
    #if DEBUG
      if let fault = MemoryPlanner.overlap(buffers, placement) {
        preconditionFailure("memory planning: \(fault)")
      }
    #endif
    return WorkPlacement(buffers: buffers, placement: placement)
  }

  /// Encodes the scheduled values as instructions over the placed arena,
  /// lays out the scratch region after the work region, and builds the plan.
  func emit(
    _ schedule: Schedule, placement work: WorkPlacement, constants: ConstantLayout,
    parameters: ParameterLayout
  ) -> Plan {
    let workBase = constants.size + parameters.size
    func offset(_ j: Int) -> Int {
      switch schedule.storage[j]! {
      case .constant(let c): return c
      case .parameter(let p): return constants.size + p
      case .work(let w): return workBase + work.placement.offsets[w]
      case .inlined: preconditionFailure("an inlined value has no storage")
      }
    }
    var code = Code()
    for e in schedule.emitted {
      let i = e.instance
      code.provenance.append(NodeID(instances[i].node))
      switch e.kind {
      case .fused(let members):
        code.instructions.append(
          fusedKernel(
            i, members: members, offset: offset, uniform: constants.uniform, code: &code))
      case .single(let scratch):
        code.instructions.append(
          single(
            i, offset: offset, workspace: scratch.map { workBase + work.placement.offsets[$0] },
            code: &code))
      case .rowBlock(let g, let scratch):
        code.instructions.append(
          rowBlockProduct(
            g, offset: offset, uniform: constants.uniform,
            workspace: workBase + work.placement.offsets[scratch], code: &code))
      }
    }
    let scratch = layOutScratch(code, after: workBase + work.placement.size)
    let placedParameters = parameters.parameters.map { i, p in
      Plan.Parameter(leaf: p.leaf, task: p.task, offset: offset(i), shape: p.shape)
    }
    let stats = Plan.Statistics(
      constants: constants.size, parameters: parameters.size, work: work.placement.size,
      maximumLive: work.placement.maximumLive, withoutReuse: work.placement.withoutReuse,
      scratch: scratch.registers + scratch.gemmWorkspace, fusedOps: code.fusedOps)
    let plan = Plan(
      instructions: code.instructions, fused: code.fused, slices: code.slices,
      operandLists: code.operandLists,
      concatLists: code.concatLists, rowBlockProducts: code.rowBlockProducts,
      parameters: placedParameters, outputs: outputs(offset: offset),
      provenance: code.provenance, origins: code.provenance.map { graph.origin($0) },
      stepOrigins: code.fused.map { $0.nodes.map { graph.origin($0) } },
      outputCounts: schedule.emitted.map { shape($0.instance).count }, statistics: stats,
      constants: constants.values, scratchOffset: scratch.offset,
      gemmWorkspaceOffset: scratch.offset + scratch.registers,
      arenaCount: scratch.offset + scratch.registers + scratch.gemmWorkspace)
    plan.rowValueNodes = code.rowValueNodes
    plan.rowValueOrigins = code.rowValueNodes.map { $0.map { graph.origin($0) } }
    return plan
  }

  /// The scratch region: the fused kernels' block registers, then packing
  /// space for the largest matrix–matrix product (both dimensions > 1).
  func layOutScratch(
    _ code: Code, after offset: Int
  ) -> (offset: Int, registers: Int, gemmWorkspace: Int) {
    let registers = (code.fused.map(\.registers).max() ?? 0) * FusedKernel.block
    let gemmWorkspace =
      code.instructions.filter {
        if case .matmul = $0.opcode { $0.m > 1 && $0.n > 1 } else { false }
      }
      .map { GEMM.workspaceSize(m: Int($0.m), n: Int($0.n), k: Int($0.k)) }.max() ?? 0
    return (offset, registers, gemmWorkspace)
  }

  /// Where each root's value is read after a run.
  func outputs(offset: (Int) -> Int) -> [Plan.Output] {
    roots.map { r -> Plan.Output in
      let varying =
        instances.firstIndex { $0.node == r.index }.map { instances[$0].task >= 0 } ?? false
      let i = index[Instance(node: r.index, task: varying ? (task ?? 0) : -1)]!
      return Plan.Output(node: r, offset: offset(i), shape: shape(i))
    }
  }
}
