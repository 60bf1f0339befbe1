/// The `--emit plan` text: the arena's regions, then one line per
/// instruction with its operands (region and offset), sizes, flops and bytes
/// moved, and the source it came from.
extension Plan {
  /// Flops and bytes moved by one instruction (the cost figures the plan reports).
  public func cost(_ pc: Int) -> (flops: Int, bytes: Int) {
    let ins = instructions[pc]
    let (m, n, k) = (Int(ins.m), Int(ins.n), Int(ins.k))
    switch ins.opcode {
    case .fused(let k), .scalar(let k, _):
      let kernel = fused[Int(k)]
      let size = kernel.rows * kernel.columns
      if kernel.reduction != nil {
        return (size * (kernel.steps.count + 1), 8 * size * kernel.steps.count)
      }
      let reads = kernel.steps.flatMap { [$0.a, $0.b] }.filter {
        if case .operand = $0 { return true } else { return false }
      }.count
      return (size * kernel.steps.count, 8 * size * (reads + 1))
    case .matmul: return (2 * m * n * k, 8 * (m * k + k * n + m * n))
    case .solve: return (2 * m * m * m / 3 + 2 * m * m * n, 8 * (2 * m * m + 2 * m * n))
    case .reduce, .argmax: return (m * n, 8 * (m * n + max(m, n)))
    case .softmax, .logSoftmax: return (4 * m * n, 16 * m * n)
    case .copy: return (0, 16 * m)
    case .transpose: return (0, 16 * m * n)
    case .slice(let index): let s = slices[Int(index)]; return (0, 16 * s.count)
    case .concat, .diag: return (0, 16 * max(m * n, n * n))
    case .taskSum, .taskMean: return (m * k, 8 * m * (k + 1))
    case .rowBlockProduct(let index):
      // a read once; the vᵢ read, the uᵢ and the kernels' results written,
      // the partial sums written and read.
      let f = rowBlockProducts[Int(index)]
      let kernels = fused[f.firstKernel..<(f.firstKernel + f.kernelCount)]
      let parts = RowBlockProduct.parts(rows: m, columns: k)
      let steps = kernels.reduce(0) { $0 + $1.steps.count }
      let rows = f.rowValueCount + f.kernelCount
      return (
        2 * m * k * (f.rowValueCount + 1) + m * steps,
        8 * (m * k + k * (f.rowValueCount + 1) + m * rows + 2 * parts * k)
      )
    }
  }

  func slot(_ offset: Int) -> String {
    let s = statistics
    if offset < s.constants { return "c\(offset)" }
    if offset < s.constants + s.parameters { return "p\(offset - s.constants)" }
    return "w\(offset - s.constants - s.parameters)"
  }

  public func dump(title: String, outputNames: [String], leafName: (Op) -> String) -> String {
    let s = statistics
    var out =
      "# plan of \(title): \(instructions.count) instructions; \(s.fusedOps) elementwise ops fused into \(fused.count) kernels\n"
    let ratio = s.maximumLive == 0 ? 1 : Double(s.work) / Double(s.maximumLive)
    let saving = s.withoutReuse == 0 ? 1 : Double(s.work) / Double(s.withoutReuse)
    out +=
      "# arena (doubles): constants \(s.constants) (data and what depends on data alone, computed once), parameters \(s.parameters), "
    out += "work \(s.work), scratch \(s.scratch)\n"
    out +=
      "# work region: \(s.work) = \(formatValue((ratio * 100).rounded() / 100))× the largest live set (\(s.maximumLive)); "
    out += "\(formatValue((saving * 100).rounded() / 100))× the \(s.withoutReuse) without reuse\n"
    if !rowBlockProducts.isEmpty {
      out +=
        "# fused: \(PlanFusion.rowBlockProduct) ×\(rowBlockProducts.count) (Xᵀ f(X v) reading X once)\n"
    }
    if !rewrites.isEmpty {
      out +=
        "# reassociated to hoist work on data alone: "
        + rewrites.map { "\($0.rule) ×\($0.count)" }.joined(separator: ", ") + "\n"
    }
    for p in parameters {
      out +=
        "parameter \(leafName(p.leaf))\(p.task.map { " (task \($0 + 1))" } ?? "") at \(slot(p.offset)): \(p.shape)\n"
    }
    var totalFlops = 0
    var totalBytes = 0
    for (pc, ins) in instructions.enumerated() {
      let (flops, bytes) = cost(pc)
      totalFlops += flops
      totalBytes += bytes
      let place =
        origins[pc].map { r -> String in
          let (l, c) = r.file.lineAndColumn(of: r.start)
          return "\(l):\(c)"
        } ?? "derived"
      out +=
        "\(pc): \(slot(Int(ins.output))) = \(describe(ins))  # \(flops) flops, \(bytes) B; \(place)\n"
    }
    out += "# total \(totalFlops) flops, \(totalBytes) B per run\n"
    for (k, o) in outputs.enumerated() {
      out += "output \(outputNames[k]) = \(slot(o.offset)) : \(o.shape)\n"
    }
    return out
  }

  /// Which kernel a product runs on and why: the interpreter's own rule.
  func matmulChoice(_ ins: Instruction) -> String {
    let (m, n, k) = (Int(ins.m), Int(ins.n), Int(ins.k))
    if m == 1 && n == 1 { return "(dot)" }
    if m == 1 || n == 1 {
      let threads =
        m * n * k / max(1, min(m, n)) >= GEMV.parallelThreshold
        ? KernelThreadPool.shared.threadCount : 1
      return "(GEMV, \(threads) thread\(threads == 1 ? "" : "s"): a vector operand)"
    }
    let threads = GEMM.automaticThreads(m: m, n: n, k: k)
    return
      "(GEMM, \(threads) thread\(threads == 1 ? "" : "s"): \(2 * m * n * k) flops \(threads == 1 ? "<" : "≥") the split threshold)"
  }

  func describe(_ ins: Instruction) -> String {
    let (a, b) = (slot(Int(ins.a)), slot(Int(ins.b)))
    switch ins.opcode {
    case .fused(let kernel), .scalar(let kernel, _):
      let k = fused[Int(kernel)]
      let reduction = k.reduction.map { "; \($0.rawValue) of r\(k.steps.count - 1)" } ?? ""
      return "fused[\(k.rows)×\(k.columns)] \(stepsText(Int(kernel)))\(reduction)"
    case .matmul(let transposeA, let transposeB):
      let ta = transposeA ? "'" : ""
      let tb = transposeB ? "'" : ""
      return "matmul \(a)\(ta) @ \(b)\(tb) [\(ins.m)×\(ins.k) · \(ins.k)×\(ins.n)] "
        + matmulChoice(ins)
    case .solve(let workspace):
      return "solve(\(a), \(b)) [\(ins.m)×\(ins.m), \(ins.n) rhs] workspace \(slot(Int(workspace)))"
    case .reduce(let kind, let axis):
      let axisText = axis == .all ? "" : axis == .rows ? ", axis: rows" : ", axis: columns"
      return "\(kind.rawValue)(\(a)\(axisText)) [\(ins.m)×\(ins.n)]"
    case .argmax(let axis):
      let axisText = axis == .all ? "" : axis == .rows ? ", axis: rows" : ", axis: columns"
      return "argmax(\(a)\(axisText)) [\(ins.m)×\(ins.n)]"
    case .softmax: return "softmax(\(a)) [\(ins.m)×\(ins.n)]"
    case .logSoftmax: return "log_softmax(\(a)) [\(ins.m)×\(ins.n)]"
    case .copy: return "copy(\(a)) [\(ins.m)]"
    case .transpose: return "transpose(\(a)) [\(ins.m)×\(ins.n)]"
    case .slice(let index):
      let s = slices[Int(index)]
      return
        "slice(\(a)) rows \(s.rowStart)..<\(s.rowEnd), columns \(s.columnStart)..<\(s.columnEnd)"
    case .concat(let list, _):
      return "concat(\(concatLists[Int(list)].map { slot($0.offset) }.joined(separator: ", ")))"
    case .diag: return "diag(\(a))"
    case .taskSum(let list):
      return "sum over tasks(\(operandLists[Int(list)].map(slot).joined(separator: ", ")))"
    case .taskMean(let list):
      return "mean over tasks(\(operandLists[Int(list)].map(slot).joined(separator: ", ")))"
    case .rowBlockProduct(let index):
      let f = rowBlockProducts[Int(index)]
      let (m, k) = (Int(ins.m), Int(ins.k))
      let list = operandLists[f.list]
      let rowValues = (0..<f.rowValueCount).map {
        "\(slot(list[f.kernelCount + $0])) = \(a) @ \(slot(list[f.kernelCount + f.rowValueCount + $0]))"
      }
      let kernels = (0..<f.kernelCount).map {
        "\(slot(list[$0])) = [\(stepsText(f.firstKernel + $0))]"
      }
      let parts = RowBlockProduct.parts(rows: m, columns: k)
      let threads = parts > 1 ? min(parts, KernelThreadPool.shared.threadCount) : 1
      return
        "row-block product \(a)' @ \(b) [\(m)×\(k), \(a) read once; \(parts) part\(parts == 1 ? "" : "s"), "
        + "\(threads) thread\(threads == 1 ? "" : "s")] by rows: "
        + (rowValues + kernels).joined(separator: "; ") + "; workspace \(slot(f.workspace))"
    }
  }

  /// A fused kernel's steps, as registers over operands.
  func stepsText(_ kernel: Int) -> String {
    fused[kernel].steps.enumerated().map { i, s -> String in
      func src(_ x: FusedKernel.Source) -> String {
        switch x {
        case .register(let r): return "r\(r)"
        case .immediate(let v): return formatNumber(v)
        case .operand(let o, let role): return slot(o) + (role == .same ? "" : "(\(role))")
        }
      }
      switch s.function {
      case .unary(let f): return "r\(i)=\(f.name)(\(src(s.a)))"
      case .binary(let f): return "r\(i)=\(src(s.a))\(f.symbol)\(src(s.b))"
      case .identity: return "r\(i)=\(src(s.a))"
      }
    }.joined(separator: "; ")
  }
}
