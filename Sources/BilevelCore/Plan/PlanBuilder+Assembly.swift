extension PlanBuilder {
  /// Places every value and encodes the instructions.
  func assemble(storage: [Storage?], emitted: [(instance: Int, kind: Emission)], workBuffers: [(instance: Int?, size: Int)],
                constantValues: [(offset: Int, values: [Double])], constantSize: Int, constantValue: [Tensor?],
                parameters: [(Int, Plan.Parameter)], parameterSize: Int) -> Plan {
    // Liveness of work buffers, by instruction.
    var first = [Int](repeating: Int.max, count: workBuffers.count)
    var last = [Int](repeating: -1, count: workBuffers.count)
    func workBuffer(_ j: Int) -> Int? {
      if case .work(let w)? = storage[j] { return w }
      return nil
    }
    for (k, e) in emitted.enumerated() {
      let w = workBuffer(e.instance)!
      first[w] = min(first[w], k)
      last[w] = max(last[w], k)
      let reads: [Int]
      switch e.kind {
      case .fused(let members): reads = members.flatMap { inputs[$0] }
      case .single(let scratch):
        reads = inputs[e.instance]
        if let s = scratch { first[s] = k; last[s] = k }
      }
      for j in reads { if let r = workBuffer(j) { last[r] = max(last[r], k) } }
    }
    for (w, b) in workBuffers.enumerated() {
      if let i = b.instance, isRoot[i] { last[w] = emitted.count - 1 }
      if first[w] == Int.max { first[w] = 0 }
      last[w] = max(last[w], first[w])
    }
    let placement = MemoryPlanner.place(workBuffers.indices.map {
      MemoryPlanner.Buffer(size: workBuffers[$0].size, firstUse: first[$0], lastUse: last[$0])
    })
    let workBase = constantSize + parameterSize
    func offset(_ j: Int) -> Int {
      switch storage[j]! {
      case .constant(let c): return c
      case .parameter(let p): return constantSize + p
      case .work(let w): return workBase + placement.offsets[w]
      case .inlined: preconditionFailure("an inlined value has no storage")
      }
    }
    var instructions: [Instruction] = []
    var fused: [FusedKernel] = []
    var slices: [SliceSpec] = []
    var lists: [[Int]] = []
    var concatLists: [[ConcatPart]] = []
    var provenance: [NodeID] = []
    var fusedOps = 0
    var stepsBefore = 0
    for e in emitted {
      let i = e.instance
      provenance.append(NodeID(instances[i].node))
      switch e.kind {
      case .fused(let all):
        // A trailing sum or mean is the kernel's reduction, not a step.
        let reduction: Reduction? = PlanBuilder.isFusibleReduction(node(i).op)
          ? (node(i).op == .reduce(.sum, .all) ? .sum : .mean) : nil
        let members = reduction == nil ? all : Array(all.dropLast())
        let s = shape(members.last!)
        func source(_ j: Int) -> FusedKernel.Source {
          if let r = members.firstIndex(of: j) { return .register(r) }
          if let t = constantValue[j], let v = t.scalars.first, t.scalars.allSatisfy({ $0.bitPattern == v.bitPattern }) {
            return .immediate(v)
          }
          return .operand(offset: offset(j), role: BroadcastRole.of(shape(j), in: s)!)
        }
        let steps = members.map { m -> FusedKernel.Step in
          switch node(m).op {
          case .unary(let f): return FusedKernel.Step(function: .unary(f), a: source(inputs[m][0]), b: .immediate(0))
          case .binary(let f): return FusedKernel.Step(function: .binary(f), a: source(inputs[m][0]), b: source(inputs[m][1]))
          default: return FusedKernel.Step(function: .identity, a: source(inputs[m][0]), b: .immediate(0))
          }
        }
        fusedOps += steps.count
        let isScalar = s.count == 1 && steps.count == 1
        let kernel = Int32(fused.count)
        instructions.append(Instruction(isScalar ? .scalar(kernel: kernel, step: Int32(stepsBefore)) : .fused(kernel: kernel),
                                        output: offset(i)))
        stepsBefore += steps.count
        fused.append(FusedKernel(rows: s.isMatrix ? s.rows : 1, columns: s.isMatrix ? s.columns : s.count, steps: steps,
                                 nodes: members.map { NodeID(instances[$0].node) }, reduction: reduction))
      case .single(let scratch):
        instructions.append(single(i, offset: offset, workspace: scratch.map { workBase + placement.offsets[$0] },
                                   slices: &slices, lists: &lists, concatLists: &concatLists))
      }
    }
    let registers = fused.map(\.registers).max() ?? 0
    let scratchOffset = workBase + placement.size
    // Packing space for the largest matrix–matrix product (both dimensions > 1).
    let gemmWorkspace = instructions.filter { if case .matmul = $0.opcode { $0.m > 1 && $0.n > 1 } else { false } }
      .map { GEMM.workspaceSize(m: Int($0.m), n: Int($0.n), k: Int($0.k)) }.max() ?? 0
    let gemmWorkspaceOffset = scratchOffset + registers * FusedKernel.block
    let arenaCount = gemmWorkspaceOffset + gemmWorkspace
    let placedParameters = parameters.map { i, p in
      Plan.Parameter(leaf: p.leaf, task: p.task, offset: offset(i), shape: p.shape)
    }
    let outputs = roots.map { r -> Plan.Output in
      let varying = instances.firstIndex { $0.node == r.index }.map { instances[$0].task >= 0 } ?? false
      let i = index[Instance(node: r.index, task: varying ? (task ?? 0) : -1)]!
      return Plan.Output(node: r, offset: offset(i), shape: shape(i))
    }
    let stats = Plan.Statistics(constants: constantSize, parameters: parameterSize, work: placement.size,
                                maximumLive: placement.maximumLive, withoutReuse: placement.withoutReuse,
                                scratch: registers * FusedKernel.block + gemmWorkspace, fusedOps: fusedOps)
    return Plan(instructions: instructions, fused: fused, slices: slices, operandLists: lists, concatLists: concatLists, parameters: placedParameters,
                outputs: outputs, provenance: provenance, origins: provenance.map { graph.origin($0) },
                stepOrigins: fused.map { $0.nodes.map { graph.origin($0) } },
                outputCounts: emitted.map { shape($0.instance).count }, statistics: stats, constants: constantValues,
                scratchOffset: scratchOffset, gemmWorkspaceOffset: gemmWorkspaceOffset, arenaCount: arenaCount)
  }

  /// The instruction for one non-elementwise node.
  func single(_ i: Int, offset: (Int) -> Int, workspace: Int?, slices: inout [SliceSpec], lists: inout [[Int]],
              concatLists: inout [[ConcatPart]]) -> Instruction {
    let out = offset(i)
    let x = inputs[i]
    let s = shape(i)
    switch node(i).op {
    case .matmul(let tl, let tr):
      let (a, b) = (shape(x[0]), shape(x[1]))
      let (m, k) = a.isMatrix ? (tl ? (a.columns, a.rows) : (a.rows, a.columns)) : (1, a.count)
      let n = b.isMatrix ? (tr ? b.rows : b.columns) : 1
      return Instruction(.matmul(transposeA: a.isMatrix && tl, transposeB: b.isMatrix && tr), output: out,
                         a: offset(x[0]), b: offset(x[1]), m: m, n: n, k: k)
    case .solve:
      let b = shape(x[1])
      return Instruction(.solve(workspace: Int32(workspace!)), output: out, a: offset(x[0]), b: offset(x[1]),
                         m: shape(x[0]).rows, n: b.isMatrix ? b.columns : 1)
    case .reduce(let r, let axis):
      let input = shape(x[0])
      let (rows, columns) = input.isMatrix ? (input.rows, input.columns) : (1, input.count)
      // A vector's reduction along any axis is its whole reduction.
      return Instruction(.reduce(r, input.isMatrix ? axis : .all), output: out, a: offset(x[0]), m: rows, n: columns)
    case .softmax, .logSoftmax:
      let rows = s.isMatrix ? s.rows : 1
      return Instruction(node(i).op == .softmax ? .softmax : .logSoftmax, output: out, a: offset(x[0]),
                         m: rows, n: s.count / rows)
    case .reshape:
      return Instruction(.copy, output: out, a: offset(x[0]), m: s.count)
    case .transpose:
      let input = shape(x[0])
      guard input.isMatrix else { return Instruction(.copy, output: out, a: offset(x[0]), m: s.count) }
      return Instruction(.transpose, output: out, a: offset(x[0]), m: input.rows, n: input.columns)
    case .slice(let spec):
      let input = shape(x[0])
      slices.append(spec)
      return Instruction(.slice(Int32(slices.count - 1)), output: out, a: offset(x[0]),
                         m: input.isMatrix ? input.rows : input.count, n: input.isMatrix ? input.columns : 1)
    case .concat(let axis):
      // Vectors and scalars are one column.
      concatLists.append(x.map { j in
        let p = shape(j)
        return ConcatPart(offset: offset(j), rows: p.isMatrix ? p.rows : p.count, columns: p.isMatrix ? p.columns : 1)
      })
      return Instruction(.concat(list: Int32(concatLists.count - 1), byColumns: s.isMatrix && axis == 1), output: out,
                         m: s.isMatrix ? s.rows : s.count, n: s.isMatrix ? s.columns : 1)
    case .diag:
      let input = shape(x[0])
      return Instruction(.diag(input.isVector ? .vectorToMatrix : .matrixToVector), output: out, a: offset(x[0]), n: input.rows)
    case .taskReduce(let r):
      let operands = x.count == 1 ? Array(repeating: offset(x[0]), count: tasks) : x.map(offset)
      lists.append(operands)
      let list = Int32(lists.count - 1)
      return Instruction(r == .mean ? .taskMean(list: list) : .taskSum(list: list), output: out, m: s.count, k: operands.count)
    case .constant, .literal, .data, .variable, .input, .unary, .binary, .broadcast:
      preconditionFailure("\(node(i).op) is not lowered to a single instruction")
    }
  }
}
