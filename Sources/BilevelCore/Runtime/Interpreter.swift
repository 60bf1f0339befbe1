import BilevelFrontEnd
import Foundation

/// The interpreter: one loop over the plan's instructions, each dispatched
/// to a kernel on raw arena pointers. Nothing here allocates or retains.
extension Plan {
  public func run() {
    // The breakdown's switch, read once per run (PlanProfile).
    if PlanProfile.enabled.load(ordering: .relaxed) { return runProfiled() }
    runInstructions(instructionBuffer)
  }

  func runInstructions(_ instructions: UnsafeMutableBufferPointer<Instruction>) {
    let base = arena
    let code = UnsafeBufferPointer(instructions)
    for pc in 0..<code.count {
      let ins = code[pc]
      let out = base + Int(ins.output)
      let a = UnsafePointer(rawAddress(ins.a))
      let b = UnsafePointer(rawAddress(ins.b))
      let (m, n, k) = (Int(ins.m), Int(ins.n), Int(ins.k))
      switch ins.opcode {
      case .fused(let kernel):
        runFused(Int(kernel), into: out)
      case .scalar(_, let step):
        out[0] = scalarStep(stepBuffer[Int(step)])
      case .matmul(let transposeA, let transposeB):
        matmul(a, b, out, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB)
      case .solve(let workspace):
        solve(a, b, out, n: m, rhs: n, workspace: base + Int(workspace))
      case .reduce(let kind, let axis):
        BasicKernels.reduce(kind, axis: axis, a, out, rows: m, columns: n)
      case .argmax(let axis):
        BasicKernels.argmax(axis: axis, a, out, rows: m, columns: n)
      case .softmax:
        BasicKernels.softmax(a, out, rows: m, columns: n, log: false)
      case .logSoftmax:
        BasicKernels.softmax(a, out, rows: m, columns: n, log: true)
      case .copy:
        out.update(from: a, count: m)
      case .transpose:
        for i in 0..<m { for j in 0..<n { out[j * m + i] = a[i * n + j] } }
      case .slice(let index):
        let s = sliceBuffer[Int(index)]
        var o = out
        for i in s.rowStart..<s.rowEnd {
          let width = s.columnEnd - s.columnStart
          o.update(from: a + i * n + s.columnStart, count: width)
          o += width
        }
      case .concat(let list, let byColumns):
        concat(Int(list), into: out, rows: m, byColumns: byColumns)
      case .diag(.vectorToMatrix):
        out.update(repeating: 0, count: n * n)
        for i in 0..<n { out[i * n + i] = a[i] }
      case .diag(.matrixToVector):
        for i in 0..<n { out[i] = a[i * n + i] }
      case .taskSum(let list):
        taskSum(Int(list), into: out, count: m, tasks: k, scale: 1)
      case .taskMean(let list):
        taskSum(Int(list), into: out, count: m, tasks: k, scale: 1 / Double(k))
      case .rowBlockProduct(let index):
        rowBlockProduct(Int(index), a, rawAddress(ins.b), into: out, rows: m, columns: k)
      }
    }
  }

  /// out = scale · Σ over the list's task instances (each `count` entries).
  @inline(__always)
  func taskSum(
    _ list: Int, into out: UnsafeMutablePointer<Double>, count m: Int, tasks: Int, scale: Double
  ) {
    let start = listStarts[list]
    out.update(repeating: 0, count: m)
    for t in 0..<tasks {
      let src = rawAddress(listBuffer[start + t])
      for e in 0..<m { out[e] += src[e] }
    }
    if scale != 1 { for e in 0..<m { out[e] *= scale } }
  }

  @inline(__always)
  func concat(_ list: Int, into out: UnsafeMutablePointer<Double>, rows: Int, byColumns: Bool) {
    let (start, end) = (concatStarts[list], concatStarts[list + 1])
    var o = out
    if !byColumns {
      for p in start..<end {
        let part = concatBuffer[p]
        o.update(from: rawAddress(part.offset), count: part.count)
        o += part.count
      }
      return
    }
    for i in 0..<rows {
      for p in start..<end {
        let part = concatBuffer[p]
        o.update(from: rawAddress(part.offset) + i * part.columns, count: part.columns)
        o += part.columns
      }
    }
  }
}

extension Plan {
  /// Re-evaluates one element of a fused kernel step by step: the first
  /// step whose value is not finite although its operands are.
  func faultingStep(_ k: Int, element e: Int) -> (index: Int, value: Double)? {
    let kernel = fused[k]
    let (i, j) = (e / kernel.columns, e % kernel.columns)
    var registers: [Double] = []
    func value(_ s: FusedKernel.Source) -> Double {
      switch s {
      case .register(let r): return registers[r]
      case .immediate(let v): return v
      case .operand(let offset, let role):
        return address(offset)[role.sourceIndex(row: i, column: j, columns: kernel.columns)]
      }
    }
    for (index, step) in kernel.steps.enumerated() {
      let (a, b) = (value(step.a), value(step.b))
      let y: Double
      switch step.function {
      case .unary(let f): y = f.apply(a)
      case .binary(let f): y = f.apply(a, b)
      case .identity: y = a
      }
      let operandsFinite =
        a.isFinite
        && (b.isFinite
          || { if case .binary = step.function { return false } else { return true } }())
      if !y.isFinite && operandsFinite { return (index, y) }
      registers.append(y)
    }
    return nil
  }
}

extension Plan {
  /// A row-block product's first non-finite row value X vᵢ, reported at
  /// that product, as the unfused plan would.
  func rowValueFault(_ r: Int, at pc: Int) -> NumericFault? {
    let f = rowBlockProducts[r]
    let list = operandLists[f.list]
    for j in 0..<f.rowValueCount {
      let u = UnsafeBufferPointer(
        start: address(list[f.kernelCount + j]), count: Int(instructions[pc].m))
      if let bad = u.first(where: { !$0.isFinite }) {
        return NumericFault(
          instruction: pc, node: rowValueNodes[r][j],
          sourceNode: rowValueSourceNodes.isEmpty ? nil : rowValueSourceNodes[r][j],
          origin: rowValueOrigins[r][j], value: bad)
      }
    }
    return nil
  }
}

/// Where a run first produced NaN or an infinity.
public struct NumericFault: Sendable {
  public let instruction: Int
  /// The node in the plan's own graph, and in the graph it was built from.
  public let node: NodeID
  public let sourceNode: NodeID?
  public let origin: SourceRange?
  public let value: Double
}

extension Plan {
  /// Runs instruction by instruction and stops at the first one whose
  /// output is not finite; the arena keeps everything computed so far. The
  /// fast `run()` has no checks: callers use this to locate a fault after a
  /// run's outputs came back non-finite.
  public func runChecked() -> NumericFault? {
    let saved = instructionBuffer
    for pc in 0..<saved.count {
      let one = UnsafeMutableBufferPointer(rebasing: saved[pc..<(pc + 1)])
      runInstructions(one)
      let out = UnsafeBufferPointer(start: arena + Int(saved[pc].output), count: outputCounts[pc])
      if let e = out.firstIndex(where: { !$0.isFinite }) {
        // A reducing kernel has one output, and a row-block product's fault
        // may be in any of its kernels: look through all their entries.
        var kernels: [(kernel: Int, entries: Range<Int>)] = []
        if let k = saved[pc].fusedKernel {
          let size = fused[k].rows * fused[k].columns
          kernels = [(k, fused[k].reduction == nil ? e..<(e + 1) : 0..<size)]
        } else if case .rowBlockProduct(let r) = saved[pc].opcode {
          if let fault = rowValueFault(Int(r), at: pc) { return fault }
          let f = rowBlockProducts[Int(r)]
          kernels = (f.firstKernel..<(f.firstKernel + f.kernelCount)).map {
            ($0, 0..<Int(saved[pc].m))
          }
        }
        for (k, entries) in kernels {
          for entry in entries {
            if let step = faultingStep(k, element: entry) {
              return NumericFault(
                instruction: pc, node: fused[k].nodes[step.index],
                sourceNode: sourceStepNodes.isEmpty ? nil : sourceStepNodes[k][step.index],
                origin: stepOrigins[k][step.index] ?? origins[pc], value: step.value)
            }
          }
        }
        return NumericFault(
          instruction: pc, node: provenance[pc],
          sourceNode: sourceNodes.isEmpty ? nil : sourceNodes[pc], origin: origins[pc],
          value: out[e])
      }
    }
    return nil
  }
}

extension Plan {
  /// C (m×n) = op(A)·op(B) by the tuned kernels: a dot product, a
  /// matrix–vector product (either side), or the packed GEMM, whose packing
  /// buffers live in the plan's arena.
  @inline(__always)
  func matmul(
    _ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ c: UnsafeMutablePointer<Double>,
    m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool
  ) {
    if m == 1 && n == 1 {
      c[0] = VectorKernels.dot(k, a, b)
    } else if n == 1 {
      // y = op(A) x; A is stored m×k, or k×m when transposed.
      if transposeA {
        GEMV.multiply(m: k, n: m, a: a, lda: m, transposeA: true, x: b, y: c)
      } else {
        GEMV.multiply(m: m, n: k, a: a, lda: k, transposeA: false, x: b, y: c)
      }
    } else if m == 1 {
      // yᵀ = xᵀ op(B) = op(B)ᵀ x; B is stored k×n, or n×k when transposed.
      if transposeB {
        GEMV.multiply(m: n, n: k, a: b, lda: k, transposeA: false, x: a, y: c)
      } else {
        GEMV.multiply(m: k, n: n, a: b, lda: n, transposeA: true, x: a, y: c)
      }
    } else {
      GEMM.multiply(
        m: m, n: n, k: k, a: a, lda: transposeA ? m : k, transposeA: transposeA,
        b: b, ldb: transposeB ? k : n, transposeB: transposeB, c: c, ldc: n,
        workspace: gemmWorkspaceBase)
    }
  }
}

extension Plan {
  /// Doubles a `solve` instruction needs: the factors, the pivots (8 bytes
  /// each), and the factorisation's and the solve's own workspace.
  static func solveWorkspace(n: Int, rhs: Int) -> Int {
    n * n + n + LU.workspaceSize(n: n) + LU.solveWorkspaceSize(n: n, rhs: rhs)
  }

  /// X = A⁻¹ B by the blocked LU with partial pivoting. A singular A leaves
  /// NaN in X, which `runChecked` reports at the solve's source.
  @inline(__always)
  func solve(
    _ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ x: UnsafeMutablePointer<Double>,
    n: Int, rhs: Int, workspace: UnsafeMutablePointer<Double>
  ) {
    let factors = workspace
    factors.update(from: a, count: n * n)
    x.update(from: b, count: n * rhs)
    let scratch = workspace + n * n + n
    (workspace + n * n).withMemoryRebound(to: Int.self, capacity: n) { pivots in
      guard LU.factor(n: n, a: factors, lda: n, pivots: pivots, workspace: scratch) == .success
      else {
        x.update(repeating: .nan, count: n * rhs)
        return
      }
      if rhs == 1 {
        LU.solve(n: n, lu: factors, lda: n, pivots: pivots, b: x)
      } else {
        LU.solve(
          n: n, rhs: rhs, lu: factors, lda: n, pivots: pivots, b: x, ldb: rhs,
          workspace: scratch + LU.workspaceSize(n: n))
      }
    }
  }
}
