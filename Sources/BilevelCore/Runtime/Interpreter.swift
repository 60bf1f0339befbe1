import BilevelFrontEnd
import Foundation

/// The interpreter: one loop over the plan's instructions, each dispatched
/// to a kernel on raw arena pointers. Nothing here allocates or retains.
extension Plan {
  public func run() { runInstructions(instructionBuffer) }

  func runInstructions(_ instructions: UnsafeMutableBufferPointer<Instruction>) {
    let base = arena
    let code = UnsafeBufferPointer(instructions)
    for pc in 0..<code.count {
      let ins = code[pc]
      let out = base + Int(ins.output)
      let a = UnsafePointer(base + Int(ins.a))
      let b = UnsafePointer(base + Int(ins.b))
      let (m, n, k) = (Int(ins.m), Int(ins.n), Int(ins.k))
      switch ins.opcode {
      case .fused:
        runFused(Int(ins.extra), into: out)
      case .scalar:
        out[0] = scalarStep(stepBuffer[k])
      case .matmul:
        matmul(a, b, out, m: m, n: n, k: k, transposeA: ins.flags & 1 != 0, transposeB: ins.flags & 2 != 0)
      case .solve:
        solve(a, b, out, n: m, rhs: n, workspace: base + Int(ins.extra))
      case .reduce:
        let kind = Reduction.allCases[Int(ins.flags >> 2)]
        BasicKernels.reduce(kind, axis: Int(ins.flags & 3), a, out, rows: m, columns: n)
      case .softmax, .logSoftmax:
        BasicKernels.softmax(a, out, rows: m, columns: n, log: ins.opcode == .logSoftmax)
      case .copy:
        out.update(from: a, count: m)
      case .transpose:
        for i in 0..<m { for j in 0..<n { out[j * m + i] = a[i * n + j] } }
      case .slice:
        let s = sliceBuffer[Int(ins.extra)]
        var o = out
        for i in s.rowStart..<s.rowEnd {
          let width = s.columnEnd - s.columnStart
          o.update(from: a + i * n + s.columnStart, count: width)
          o += width
        }
      case .concat:
        concat(Int(ins.extra), into: out, rows: m, columns: n, byColumns: ins.flags == 1)
      case .diag:
        if ins.flags == 0 {
          out.update(repeating: 0, count: n * n)
          for i in 0..<n { out[i * n + i] = a[i] }
        } else {
          for i in 0..<n { out[i] = a[i * n + i] }
        }
      case .taskSum, .taskMean:
        let start = listStarts[Int(ins.extra)]
        out.update(repeating: 0, count: m)
        for t in 0..<k {
          let src = base + listBuffer[start + t]
          for e in 0..<m { out[e] += src[e] }
        }
        if ins.opcode == .taskMean {
          let scale = 1 / Double(k)
          for e in 0..<m { out[e] *= scale }
        }
      }
    }
  }

  @inline(__always)
  func concat(_ list: Int, into out: UnsafeMutablePointer<Double>, rows: Int, columns: Int, byColumns: Bool) {
    let start = listStarts[list]
    let end = list + 1 < listStarts.count ? listStarts[list + 1] : listBuffer.count
    var o = out
    if !byColumns {
      var p = start
      while p < end {
        let count = listBuffer[p + 1] * listBuffer[p + 2]
        o.update(from: arena + listBuffer[p], count: count)
        o += count
        p += 3
      }
      return
    }
    for i in 0..<rows {
      var p = start
      while p < end {
        let width = listBuffer[p + 2]
        o.update(from: arena + listBuffer[p] + i * width, count: width)
        o += width
        p += 3
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
      case .operand(let offset, let role): return arena[offset + role.sourceIndex(row: i, column: j, columns: kernel.columns)]
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
      let operandsFinite = a.isFinite && (b.isFinite || { if case .binary = step.function { return false } else { return true } }())
      if !y.isFinite && operandsFinite { return (index, y) }
      registers.append(y)
    }
    return nil
  }
}

/// Where a run first produced NaN or an infinity.
public struct NumericFault: Sendable {
  public let instruction: Int
  public let node: NodeID
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
        if saved[pc].opcode == .fused || saved[pc].opcode == .scalar {
          // A reducing kernel has one output: look through all its entries.
          let k = Int(saved[pc].extra)
          let entries = fused[k].reduction == nil ? e..<(e + 1) : 0..<(fused[k].rows * fused[k].columns)
          for entry in entries {
            if let step = faultingStep(k, element: entry) {
              return NumericFault(instruction: pc, node: fused[k].nodes[step.index], origin: stepOrigins[k][step.index], value: step.value)
            }
          }
        }
        return NumericFault(instruction: pc, node: provenance[pc], origin: origins[pc], value: out[e])
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
  func matmul(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ c: UnsafeMutablePointer<Double>,
              m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool) {
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
      GEMM.multiply(m: m, n: n, k: k, a: a, lda: transposeA ? m : k, transposeA: transposeA,
                    b: b, ldb: transposeB ? k : n, transposeB: transposeB, c: c, ldc: n,
                    workspace: arena + gemmWorkspaceOffset)
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
  func solve(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ x: UnsafeMutablePointer<Double>,
             n: Int, rhs: Int, workspace: UnsafeMutablePointer<Double>) {
    let factors = workspace
    factors.update(from: a, count: n * n)
    x.update(from: b, count: n * rhs)
    let scratch = workspace + n * n + n
    (workspace + n * n).withMemoryRebound(to: Int.self, capacity: n) { pivots in
      guard LU.factor(n: n, a: factors, lda: n, pivots: pivots, workspace: scratch) == .success else {
        x.update(repeating: .nan, count: n * rhs)
        return
      }
      if rhs == 1 {
        LU.solve(n: n, lu: factors, lda: n, pivots: pivots, b: x)
      } else {
        LU.solve(n: n, rhs: rhs, lu: factors, lda: n, pivots: pivots, b: x, ldb: rhs,
                 workspace: scratch + LU.workspaceSize(n: n))
      }
    }
  }
}
