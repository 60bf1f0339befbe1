/// What one instruction's kernel reads and writes, as the interpreter runs
/// it (Interpreter.swift, FusedExecution.swift), with the checks that make
/// those ranges meaningful: table indices, sizes, fused-kernel registers.
struct PlanAccesses {
  typealias Access = PlanVerifier.Access

  let plan: Plan
  let pc: Int
  /// Each kernel's first step in the flattened step table.
  let firstSteps: [Int]

  func fail(_ message: String) -> PlanVerificationError {
    PlanVerificationError(instruction: pc, message: message, context: plan.neighbourhood(of: pc))
  }

  /// The ranges read, and the ranges written (the result first).
  func accesses() throws(PlanVerificationError) -> (reads: [Access], writes: [Access]) {
    let ins = plan.instructions[pc]
    let (a, b, out) = (Int(ins.a), Int(ins.b), Int(ins.output))
    let (m, n, k) = (Int(ins.m), Int(ins.n), Int(ins.k))
    guard m >= 0, n >= 0, k >= 0 else { throw fail("negative size m \(m), n \(n), k \(k)") }
    func read(_ offset: Int, _ count: Int, _ what: String = "operand a") -> Access {
      Access(offset: offset, count: count, what: what)
    }
    func result(_ count: Int) -> Access { Access(offset: out, count: count, what: "the result") }
    switch ins.opcode {
    case .fused(let kernel):
      return try fusedAccesses(Int(kernel), scalarStep: nil)
    case .scalar(let kernel, let step):
      return try fusedAccesses(Int(kernel), scalarStep: Int(step))
    case .matmul:
      if m > 1 && n > 1 {
        let needed = GEMM.workspaceSize(m: m, n: n, k: k)
        guard needed <= plan.arenaCount - plan.gemmWorkspaceOffset else {
          throw fail(
            "GEMM needs \(needed) doubles of packing space, the arena has \(plan.arenaCount - plan.gemmWorkspaceOffset)"
          )
        }
      }
      return ([read(a, m * k), read(b, k * n, "operand b")], [result(m * n)])
    case .solve(let workspace):
      let scratch = Access(
        offset: Int(workspace), count: Plan.solveWorkspace(n: m, rhs: n),
        what: "the solve workspace")
      return ([read(a, m * m), read(b, m * n, "operand b")], [result(m * n), scratch])
    case .reduce(_, let axis), .argmax(let axis):
      return ([read(a, m * n)], [result(axis == .all ? 1 : axis == .rows ? n : m)])
    case .softmax, .logSoftmax, .transpose:
      return ([read(a, m * n)], [result(m * n)])
    case .copy:
      return ([read(a, m)], [result(m)])
    case .slice(let index):
      guard plan.slices.indices.contains(Int(index)) else {
        throw fail("slice \(index) is not in the table of \(plan.slices.count)")
      }
      let s = plan.slices[Int(index)]
      guard 0 <= s.rowStart, s.rowStart <= s.rowEnd, s.rowEnd <= m, 0 <= s.columnStart,
        s.columnStart <= s.columnEnd,
        s.columnEnd <= n
      else {
        throw fail(
          "rows \(s.rowStart)..<\(s.rowEnd), columns \(s.columnStart)..<\(s.columnEnd) do not fit \(m)×\(n)"
        )
      }
      return ([read(a, m * n)], [result(s.count)])
    case .concat(let list, let byColumns):
      guard plan.concatLists.indices.contains(Int(list)) else {
        throw fail("concat list \(list) is not in the table of \(plan.concatLists.count)")
      }
      let parts = plan.concatLists[Int(list)]
      guard parts.allSatisfy({ $0.rows >= 0 && $0.columns >= 0 }) else {
        throw fail("a concat part has a negative size")
      }
      let fits =
        byColumns
        ? parts.allSatisfy { $0.rows == m } && parts.reduce(0) { $0 + $1.columns } == n
        : parts.reduce(0) { $0 + $1.count } == m * n
      guard fits else {
        throw fail("parts \(parts.map { "\($0.rows)×\($0.columns)" }) do not make \(m)×\(n)")
      }
      return (parts.enumerated().map { read($1.offset, $1.count, "part \($0)") }, [result(m * n)])
    case .diag(.vectorToMatrix):
      return ([read(a, n)], [result(n * n)])
    case .diag(.matrixToVector):
      return ([read(a, n * n)], [result(n)])
    case .taskSum(let list), .taskMean(let list):
      guard plan.operandLists.indices.contains(Int(list)) else {
        throw fail("operand list \(list) is not in the table of \(plan.operandLists.count)")
      }
      let operands = plan.operandLists[Int(list)]
      guard k >= 1, operands.count == k else {
        throw fail("\(operands.count) task operands for k = \(k)")
      }
      return (operands.enumerated().map { read($1, m, "task operand \($0)") }, [result(m)])
    case .rowBlockProduct(let index):
      return try rowBlockAccesses(Int(index), read(a, m * k), result(k))
    }
  }

  /// A row-block product reads a (m×k), each vᵢ and its kernels' operands
  /// but what it computes itself; it writes the result, each uᵢ, each
  /// kernel's result (w the last: operand b) and its workspace.
  func rowBlockAccesses(
    _ index: Int, _ a: Access, _ result: Access
  ) throws(PlanVerificationError) -> (reads: [Access], writes: [Access]) {
    guard plan.rowBlockProducts.indices.contains(index) else {
      throw fail("row-block product \(index) is not in the table of \(plan.rowBlockProducts.count)")
    }
    let f = plan.rowBlockProducts[index]
    let (m, k) = (a.count / max(1, result.count), result.count)
    let kernels = f.firstKernel..<(f.firstKernel + f.kernelCount)
    guard f.kernelCount >= 1, f.rowValueCount >= 1, kernels.upperBound <= plan.fused.count,
      plan.operandLists.indices.contains(f.list),
      plan.operandLists[f.list].count == f.kernelCount + 2 * f.rowValueCount,
      plan.operandLists[f.list][f.kernelCount - 1] == Int(plan.instructions[pc].b)
    else { throw fail("row-block product \(index)'s kernels or operand list do not match") }
    let list = plan.operandLists[f.list]
    var writes = [result]
    var reads = [a]
    var widest = 0
    for (j, kernel) in kernels.enumerated() {
      let steps = plan.fused[kernel]
      guard steps.rows == 1, steps.columns == m, steps.reduction == nil else {
        throw fail(
          "row-block product \(index)'s kernel \(kernel) is not 1×\(m) without a reduction")
      }
      widest = max(widest, steps.registers)
      reads += try fusedAccesses(kernel, scalarStep: nil).reads
      writes.append(Access(offset: list[j], count: m, what: "kernel \(kernel)'s rows"))
    }
    for r in 0..<f.rowValueCount {
      writes.append(Access(offset: list[f.kernelCount + r], count: m, what: "row values u\(r)"))
      reads.append(
        Access(offset: list[f.kernelCount + f.rowValueCount + r], count: k, what: "v\(r)"))
    }
    let size = RowBlockFusion.workspaceSize(rows: m, columns: k, registers: widest)
    writes.append(Access(offset: f.workspace, count: size, what: "the row-block workspace"))
    // Its own results are read block by block as they are written.
    return (reads.filter { r in !writes.contains { $0.overlaps(r) } }, writes)
  }

  /// A fused kernel reads its operands by broadcast role and writes its
  /// result; registers hold earlier steps and live in the scratch region.
  /// A one-step scalar kernel (`scalarStep`) reads its step straight from
  /// the flattened table, so that index must be the kernel's.
  func fusedAccesses(
    _ k: Int, scalarStep: Int?
  ) throws(PlanVerificationError) -> (reads: [Access], writes: [Access]) {
    guard plan.fused.indices.contains(k) else {
      throw fail("kernel \(k) is not in the table of \(plan.fused.count)")
    }
    let kernel = plan.fused[k]
    guard !kernel.steps.isEmpty, kernel.rows >= 1, kernel.columns >= 0 else {
      throw fail(
        "kernel \(k) has \(kernel.steps.count) steps over \(kernel.rows)×\(kernel.columns)")
    }
    guard kernel.nodes.count == kernel.steps.count, plan.stepOrigins[k].count == kernel.steps.count
    else {
      throw fail(
        "kernel \(k)'s node and origin tables do not match its \(kernel.steps.count) steps")
    }
    let registers = plan.gemmWorkspaceOffset - plan.scratchOffset
    guard kernel.registers * FusedKernel.block <= registers else {
      throw fail(
        "kernel \(k) needs \(kernel.registers) registers, the scratch region holds \(registers / FusedKernel.block)"
      )
    }
    if let step = scalarStep {
      let first = firstSteps[k]
      guard kernel.steps.count == 1, kernel.rows * kernel.columns == 1, step == first else {
        throw fail(
          "a scalar instruction runs step \(step) of kernel \(k), which has \(kernel.steps.count) steps from \(first) "
            + "over \(kernel.rows)×\(kernel.columns)")
      }
    }
    var reads: [Access] = []
    for (s, step) in kernel.steps.enumerated() {
      var sources = [step.a]
      if case .binary = step.function { sources.append(step.b) }
      for source in sources {
        switch source {
        case .immediate: break
        case .register(let r):
          guard 0 <= r, r < s, scalarStep == nil else {
            throw fail("kernel \(k) step \(s) reads register r\(r) before it is written")
          }
        case .operand(let offset, let role):
          let count: Int
          switch role {
          case .same: count = kernel.rows * kernel.columns
          case .row: count = kernel.columns
          case .column: count = kernel.rows
          case .scalar: count = 1
          }
          reads.append(
            Access(offset: offset, count: count, what: "kernel \(k) step \(s)'s operand"))
        }
      }
    }
    return (
      reads,
      [
        Access(
          offset: Int(plan.instructions[pc].output), count: kernel.outputCount, what: "the result")
      ]
    )
  }
}
