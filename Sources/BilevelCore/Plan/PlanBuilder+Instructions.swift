extension PlanBuilder {
  /// The instruction for one fused chain (`members` in topological order,
  /// ending with instance `i`), its kernel appended to `code.fused`.
  func fusedKernel(
    _ i: Int, members all: [Int], offset: (Int) -> Int, uniform: [Double?], code: inout Code
  )
    -> Instruction
  {
    // A trailing sum or mean is the kernel's reduction, not a step.
    let reduction: Reduction? =
      PlanBuilder.isFusibleReduction(node(i).op)
      ? (node(i).op == .reduce(.sum, .all) ? .sum : .mean) : nil
    let members = reduction == nil ? all : Array(all.dropLast())
    let s = shape(members.last!)
    // Each member's register, found in one lookup (a search per operand is
    // quadratic in the chain, and chains of lets fuse into one kernel).
    var register: [Int: Int] = [:]
    for (r, m) in members.enumerated() where register[m] == nil { register[m] = r }
    func source(_ j: Int) -> FusedKernel.Source {
      if let r = register[j] { return .register(r) }
      if let v = uniform[j] { return .immediate(v) }
      return .operand(offset: offset(j), role: BroadcastRole.of(shape(j), in: s)!)
    }
    let steps = members.map { m -> FusedKernel.Step in
      switch node(m).op {
      case .unary(let f):
        return FusedKernel.Step(function: .unary(f), a: source(inputs[m][0]), b: .immediate(0))
      case .binary(let f):
        return FusedKernel.Step(
          function: .binary(f), a: source(inputs[m][0]), b: source(inputs[m][1]))
      default:
        return FusedKernel.Step(function: .identity, a: source(inputs[m][0]), b: .immediate(0))
      }
    }
    let kernel = Int32(code.fused.count)
    let opcode: Opcode =
      s.count == 1 && steps.count == 1
      ? .scalar(kernel: kernel, step: Int32(code.steps)) : .fused(kernel: kernel)
    code.fusedOps += steps.count
    code.steps += steps.count
    code.fused.append(
      FusedKernel(
        rows: s.isMatrix ? s.rows : 1, columns: s.isMatrix ? s.columns : s.count, steps: steps,
        nodes: members.map { NodeID(instances[$0].node) }, reduction: reduction))
    return Instruction(opcode, output: offset(i))
  }

  /// The instruction for a row-block product: its kernels become fused
  /// kernels (in a row) that the product runs on each block of rows.
  func rowBlockProduct(
    _ g: RowBlockGroup, offset: (Int) -> Int, uniform: [Double?], workspace: Int, code: inout Code
  ) -> Instruction {
    let first = code.fused.count
    for members in g.kernels {
      _ = fusedKernel(
        members.last!, members: members, offset: offset, uniform: uniform, code: &code)
    }
    code.operandLists.append(
      (g.kernels.map { $0.last! } + g.rowValues + g.rowValues.map { inputs[$0][1] }).map(offset))
    code.rowValueNodes.append(g.rowValues.map { NodeID(instances[$0].node) })
    code.rowBlockProducts.append(
      RowBlockFusion(
        firstKernel: first, kernelCount: g.kernels.count, list: code.operandLists.count - 1,
        rowValueCount: g.rowValues.count, workspace: workspace))
    let s = shape(g.matrix)
    return Instruction(
      .rowBlockProduct(Int32(code.rowBlockProducts.count - 1)), output: offset(g.product),
      a: offset(g.matrix), b: offset(g.weights), m: s.rows, n: 1, k: s.columns)
  }

  /// The instruction for one non-elementwise node.
  func single(_ i: Int, offset: (Int) -> Int, workspace: Int?, code: inout Code) -> Instruction {
    let out = offset(i)
    let x = inputs[i]
    let s = shape(i)
    switch node(i).op {
    case .matmul(let tl, let tr):
      let (a, b) = (shape(x[0]), shape(x[1]))
      let (m, k) = a.isMatrix ? (tl ? (a.columns, a.rows) : (a.rows, a.columns)) : (1, a.count)
      let n = b.isMatrix ? (tr ? b.rows : b.columns) : 1
      return Instruction(
        .matmul(transposeA: a.isMatrix && tl, transposeB: b.isMatrix && tr), output: out,
        a: offset(x[0]), b: offset(x[1]), m: m, n: n, k: k)
    case .solve:
      let b = shape(x[1])
      return Instruction(
        .solve(workspace: Int32(workspace!)), output: out, a: offset(x[0]), b: offset(x[1]),
        m: shape(x[0]).rows, n: b.isMatrix ? b.columns : 1)
    case .reduce(let r, let axis):
      let input = shape(x[0])
      let (rows, columns) = input.isMatrix ? (input.rows, input.columns) : (1, input.count)
      // A vector's reduction along any axis is its whole reduction.
      return Instruction(
        .reduce(r, input.isMatrix ? axis : .all), output: out, a: offset(x[0]), m: rows, n: columns)
    case .argmax(let axis):
      let input = shape(x[0])
      let (rows, columns) = input.isMatrix ? (input.rows, input.columns) : (1, input.count)
      return Instruction(
        .argmax(input.isMatrix ? axis : .all), output: out, a: offset(x[0]), m: rows, n: columns)
    case .softmax, .logSoftmax:
      let rows = s.isMatrix ? s.rows : 1
      return Instruction(
        node(i).op == .softmax ? .softmax : .logSoftmax, output: out, a: offset(x[0]),
        m: rows, n: s.count / rows)
    case .reshape:
      return Instruction(.copy, output: out, a: offset(x[0]), m: s.count)
    case .transpose:
      let input = shape(x[0])
      guard input.isMatrix else {
        return Instruction(.copy, output: out, a: offset(x[0]), m: s.count)
      }
      return Instruction(.transpose, output: out, a: offset(x[0]), m: input.rows, n: input.columns)
    case .slice(let spec):
      let input = shape(x[0])
      code.slices.append(spec)
      return Instruction(
        .slice(Int32(code.slices.count - 1)), output: out, a: offset(x[0]),
        m: input.isMatrix ? input.rows : input.count, n: input.isMatrix ? input.columns : 1)
    case .concat(let axis):
      // Vectors and scalars are one column.
      code.concatLists.append(
        x.map { j in
          let p = shape(j)
          return ConcatPart(
            offset: offset(j), rows: p.isMatrix ? p.rows : p.count,
            columns: p.isMatrix ? p.columns : 1)
        })
      return Instruction(
        .concat(list: Int32(code.concatLists.count - 1), byColumns: s.isMatrix && axis == 1),
        output: out,
        m: s.isMatrix ? s.rows : s.count, n: s.isMatrix ? s.columns : 1)
    case .diag:
      let input = shape(x[0])
      return Instruction(
        .diag(input.isVector ? .vectorToMatrix : .matrixToVector), output: out, a: offset(x[0]),
        n: input.rows)
    case .taskReduce(let r):
      let operands = x.count == 1 ? Array(repeating: offset(x[0]), count: tasks) : x.map(offset)
      code.operandLists.append(operands)
      let list = Int32(code.operandLists.count - 1)
      return Instruction(
        r == .mean ? .taskMean(list: list) : .taskSum(list: list), output: out, m: s.count,
        k: operands.count)
    case .constant, .literal, .data, .variable, .input, .unary, .binary, .broadcast:
      preconditionFailure("\(node(i).op) is not lowered to a single instruction")
    }
  }
}
