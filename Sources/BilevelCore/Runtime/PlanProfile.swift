import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Where a plan evaluation's time goes, by kind of instruction: the
/// benchmark's breakdown. Off, it costs one relaxed load per plan run
/// (`Plan.run` checks it once, never per instruction); on, every
/// instruction is timed on its own and the totals are added up under a
/// lock once per run, so it may be on while tasks run on several threads.
public enum PlanProfile {
  /// The kinds the breakdown reports, by the kernel an instruction calls.
  public enum Category: Int, CaseIterable, Sendable {
    case gemm, gemv, dot
    /// Fused elementwise kernels with a transcendental step (exp, log, tanh, …).
    case transcendental
    /// Fused elementwise kernels of arithmetic only, and one-entry kernels.
    case elementwise
    case solve
    /// Reductions, argmax, softmax.
    case reduction
    /// Copies, transposes, slices, concats, diagonals, task sums.
    case movement

    public var name: String {
      switch self {
      case .gemm: return "GEMM"
      case .gemv: return "GEMV"
      case .dot: return "dot"
      case .transcendental: return "fused, transcendental"
      case .elementwise: return "fused, arithmetic"
      case .solve: return "LU solve"
      case .reduction: return "reductions"
      case .movement: return "data movement"
      }
    }
  }

  /// Seconds and instruction counts per category, and the plan runs.
  public struct Totals: Sendable {
    public var seconds = [Double](repeating: 0, count: Category.allCases.count)
    public var instructions = [Int](repeating: 0, count: Category.allCases.count)
    public var runs = 0
    /// Wall time inside `Plan.run`, timers included.
    public var runSeconds = 0.0
  }

  static let enabled = Atomic<Bool>(false)
  static let totals = Mutex(Totals())

  /// Zeroes the totals and times every plan run from now on.
  public static func start() {
    totals.withLock { $0 = Totals() }
    enabled.store(true, ordering: .relaxed)
  }

  /// Stops timing; what was timed since `start`.
  public static func stop() -> Totals {
    enabled.store(false, ordering: .relaxed)
    return totals.withLock { $0 }
  }

  @inline(__always)
  static func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + 1e-9 * Double(t.tv_nsec)
  }
}

extension Plan {
  /// `run()` with every instruction timed (PlanProfile on).
  @inline(never)
  func runProfiled() {
    let count = PlanProfile.Category.allCases.count
    var seconds = [Double](repeating: 0, count: count)
    var instructions = [Int](repeating: 0, count: count)
    let code = instructionBuffer
    let start = PlanProfile.now()
    for pc in 0..<code.count {
      let category = profileCategory(code[pc]).rawValue
      let t0 = PlanProfile.now()
      runInstructions(UnsafeMutableBufferPointer(rebasing: code[pc..<(pc + 1)]))
      seconds[category] += PlanProfile.now() - t0
      instructions[category] += 1
    }
    let elapsed = PlanProfile.now() - start
    PlanProfile.totals.withLock { totals in
      for c in 0..<count {
        totals.seconds[c] += seconds[c]
        totals.instructions[c] += instructions[c]
      }
      totals.runs += 1
      totals.runSeconds += elapsed
    }
  }

  func profileCategory(_ ins: Instruction) -> PlanProfile.Category {
    switch ins.opcode {
    case .matmul:
      if ins.m == 1 && ins.n == 1 { return .dot }
      return ins.m == 1 || ins.n == 1 ? .gemv : .gemm
    case .fused(let k):
      let header = kernelBuffer[Int(k)]
      let transcendental = (header.first..<(header.first + header.count)).contains { s in
        switch stepBuffer[s].function {
        case .unary(let f):
          return [.exp, .log, .tanh, .sigmoid, .softplus, .sin, .cos].contains(f)
        case .binary(let f):
          // x², x³ are products (FusedLoops); other powers call pow.
          if case .immediate(let e) = stepBuffer[s].b, [1, 2, 3].contains(e) { return false }
          return f == .power
        case .identity: return false
        }
      }
      return transcendental ? .transcendental : .elementwise
    case .scalar: return .elementwise
    case .rowBlockProduct: return .gemv  // X read once for a GEMV pair (RowBlockProduct)
    case .solve: return .solve
    case .reduce, .argmax, .softmax, .logSoftmax: return .reduction
    case .copy, .transpose, .slice, .concat, .diag, .taskSum, .taskMean: return .movement
    }
  }
}
