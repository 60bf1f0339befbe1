import BilevelCore
import BilevelFrontEnd

/// Sizes that decide what each hypergradient method costs (survey §4.5,
/// METHODS.md): inner state, steps, outer size, tasks.
public struct ProblemSizes: Sendable {
  /// Inner variables per task (d).
  public let inner: Int
  /// Outer variables (m).
  public let outer: Int
  /// Entries of one unrolled inner state: θ plus optimizer state.
  public let state: Int
  /// Inner steps for fixed-step solvers (T); nil when the solver stops at a tolerance.
  public let steps: Int?
  public let tasks: Int
  public let innerSolver: String
  /// Whether the inner loss is exactly quadratic in θ (closed_form applies).
  public let quadratic: Bool
  /// Entries a taped step keeps beyond its state (the matrix products its
  /// pullback reads); known once the solver graphs are derived.
  public var residuals = 0

  public init(_ program: Program) {
    inner = program.size(.inner)
    outer = program.size(.outer)
    tasks = program.tasks?.count ?? 1
    let solver = program.innerSolver?.name ?? "none"
    innerSolver = solver
    let copies = solver == "momentum" ? 2 : solver == "adam" ? 3 : 1
    state = inner * copies + (solver == "adam" ? 1 : 0)
    if SolverCatalogue.fixedStepSolvers.contains(solver), case .integer(let t)? = program.innerSolver?.value("steps") {
      steps = t
    } else {
      steps = nil
    }
    if let loss = program.innerLoss {
      let analysis = PolynomialDegree.analyse(program.graph, root: loss) { op in
        if case .variable(let i) = op { return program.variables[i].level == .inner }
        return false
      }
      quadratic = analysis.degree == 2
    } else {
      quadratic = false
    }
  }
}

/// What one method costs on this problem, in inner steps (c), derivative
/// products and bytes. Until plans are measured (issue 4), time is counted
/// in units of c rather than seconds.
public struct MethodEstimate: Sendable {
  public let method: String
  public let time: String
  public let memoryBytes: Int
  public let memory: String
  /// Nil when the method applies; otherwise why not.
  public let unavailable: String?
}

public enum MethodEstimates {
  static let doubleBytes = 8

  public static func all(_ s: ProblemSizes, checkpoints: Int? = nil, truncation: Int? = nil, implicitIterations: Int = 20,
                         evograd samples: Int = 4) -> [MethodEstimate] {
    let M = s.tasks
    let perTask = M > 1 ? " × \(M) tasks" : ""
    var out: [MethodEstimate] = []
    let fixedSteps = s.steps
    func needSteps(_ name: String) -> String? {
      guard fixedSteps == nil else { return nil }
      return s.innerSolver == "none"
        ? "the program names no inner solver to unroll" : "'\(s.innerSolver)' stops at a tolerance, so there is no fixed unroll"
    }
    let T = fixedSteps ?? 0
    func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
    let stateBytes = s.state * doubleBytes
    // One taped step: its state and the matrix products its pullback reads.
    let stepBytes = (s.state + s.residuals) * doubleBytes
    func tapeText(_ steps: Int) -> String {
      s.residuals == 0
        ? "\(steps + 1) states × \(formatBytes(stateBytes))\(perTask)"
        : "\(count(steps, "step")) × \(formatBytes(stepBytes)) (\(s.state) state + \(s.residuals) residual doubles) + 1 state\(perTask)"
    }
    // unroll(reverse): every state is kept.
    let tape = (T * stepBytes + stateBytes) * M
    out.append(MethodEstimate(method: "unroll(reverse)", time: "\(count(T, "step")) forward + \(count(T, "vector-Jacobian product")) (≈ 2·T·c)",
                              memoryBytes: tape, memory: "\(tapeText(T)) = \(formatBytes(tape)) tape",
                              unavailable: needSteps("unroll")))
    let k = checkpoints ?? max(1, Int(Double(max(T, 1)).squareRoot().rounded(.up)))
    let checkpointed = ((k + 2) * stateBytes + s.residuals * doubleBytes) * M
    let recomputed = T > 0 ? CheckpointSchedule.optimalRecomputation(steps: T, snapshots: k) : 0
    out.append(MethodEstimate(method: fixedSteps == nil ? "unroll(reverse, checkpoints: k)" : "unroll(reverse, checkpoints: \(k))",
                              time: "\(count(T, "step")) forward + \(recomputed) recomputed (the binomial optimum for \(count(k, "snapshot"))) "
                                + "+ \(T) retaken + \(count(T, "vector-Jacobian product"))",
                              memoryBytes: checkpointed,
                              memory: "\(k + 2) states × \(formatBytes(stateBytes))\(s.residuals > 0 ? " + one step's residuals" : "")\(perTask) = \(formatBytes(checkpointed))",
                              unavailable: needSteps("unroll")))
    let forward = s.state * s.outer * doubleBytes * M
    out.append(MethodEstimate(method: "unroll(forward)", time: "\(count(T, "step")) × \(count(s.outer, "Jacobian-vector product")) (≈ T·m·c)",
                              memoryBytes: forward, memory: "state × m = \(s.state) × \(s.outer) doubles\(perTask) = \(formatBytes(forward))",
                              unavailable: needSteps("unroll")))
    let K = truncation ?? min(T, 10)
    let truncated = (K * stepBytes + stateBytes) * M
    out.append(MethodEstimate(method: fixedSteps == nil ? "truncated(K)" : "truncated(\(K))",
                              time: "\(count(T, "step")) forward + \(K) back (≈ (T + K)·c)",
                              memoryBytes: truncated, memory: "\(tapeText(K)) = \(formatBytes(truncated))",
                              unavailable: needSteps("truncated")))
    let small = (s.inner * M + s.outer) * doubleBytes
    let dm = M > 1 ? "d × \(M) tasks + m" : "d + m"
    out.append(MethodEstimate(method: "first_order", time: "the inner solve + one outer gradient",
                              memoryBytes: small, memory: "\(dm) doubles = \(formatBytes(small))", unavailable: nil))
    out.append(MethodEstimate(method: "finite_difference", time: "the inner solve + 2 extra inner gradients",
                              memoryBytes: 3 * small, memory: "3 (\(dm)) doubles = \(formatBytes(3 * small))",
                              unavailable: s.innerSolver == "gd" ? nil : "it approximates one gradient-descent step, and the inner solver is '\(s.innerSolver)'"))
    let evo = samples * s.inner * doubleBytes * M
    out.append(MethodEstimate(method: "evograd(\(samples))", time: "the inner solve + \(samples) inner-loss evaluations",
                              memoryBytes: evo, memory: "\(samples) perturbed copies of θ = \(formatBytes(evo))",
                              unavailable: s.innerSolver == "fixpoint" ? "it weighs perturbations by the inner loss, and an 'inner fixpoint' has none" : nil))
    let cg = (4 * s.inner + s.outer) * doubleBytes * M
    out.append(MethodEstimate(method: "implicit(cg, iters: \(implicitIterations))",
                              time: s.innerSolver == "fixpoint"
                                ? "the inner solve + up to \(2 * implicitIterations) vector-Jacobian products (BiCGSTAB: a fixpoint's adjoint system is not symmetric) + 1 more for ∂E/∂φ"
                                : "the inner solve + \(implicitIterations) Hessian-vector products + 1 mixed product",
                              memoryBytes: cg, memory: "4 vectors of d + m = \(formatBytes(cg))", unavailable: nil))
    let neumann = (3 * s.inner + s.outer) * doubleBytes * M
    out.append(MethodEstimate(method: "implicit(neumann, iters: \(implicitIterations))",
                              time: "the inner solve + \(implicitIterations) Hessian-vector products + 1 mixed product",
                              memoryBytes: neumann, memory: "3 vectors of d + m = \(formatBytes(neumann))", unavailable: nil))
    let dense = s.inner * s.inner * doubleBytes * M
    let exactTime = s.innerSolver == "fixpoint"
      ? "the inner solve + \(count(s.inner, "vector-Jacobian product")) + an LU factorisation of I − ∂E/∂z (2d³/3 flops)"
      : "the inner solve + \(count(s.inner, "Hessian-vector product")) + a Cholesky factorisation (d³/3 flops)"
    out.append(MethodEstimate(method: "implicit(exact)", time: exactTime,
                              memoryBytes: dense, memory: "\(s.innerSolver == "fixpoint" ? "d × d matrix" : "d × d Hessian") = \(formatBytes(dense))", unavailable: nil))
    out.append(MethodEstimate(method: "closed_form", time: "no inner iterations: \(count(s.inner, "Hessian-vector product")) + one d × d solve",
                              memoryBytes: dense, memory: "d × d Hessian = \(formatBytes(dense))",
                              unavailable: s.quadratic ? nil : s.innerSolver == "fixpoint" ? "it needs an inner loss, not an 'inner fixpoint'"
                                : "the inner loss is not quadratic in the inner variables"))
    return out
  }

  /// `auto`: the cheapest method that is exact for what the inner solver
  /// computes and fits the memory budget (survey §4.5).
  public static func choose(_ s: ProblemSizes, budgetBytes: Int) -> (method: String, reason: String) {
    if s.quadratic && s.inner <= 4096 {
      return ("closed_form", "the inner loss is quadratic in θ and d = \(s.inner) ≤ 4096, so one d × d solve is exact")
    }
    guard let T = s.steps else {
      return ("implicit(cg, iters: 20)", "'\(s.innerSolver)' solves to a tolerance, so the implicit function theorem applies at its solution")
    }
    let stateBytes = s.state * doubleBytes * s.tasks
    let residualBytes = s.residuals * doubleBytes * s.tasks
    let tape = T * (stateBytes + residualBytes) + stateBytes
    if tape <= budgetBytes {
      return ("unroll(reverse)", "the tape of \(T) steps (\(formatBytes(tape))) fits the \(formatBytes(budgetBytes)) budget; reverse mode is exact for the unrolled map")
    }
    let forward = s.state * s.outer * doubleBytes * s.tasks
    if s.outer <= 8 && forward <= budgetBytes {
      return ("unroll(forward)", "the tape (\(formatBytes(tape))) exceeds the budget, and m = \(s.outer) is small: forward mode carries a \(formatBytes(forward)) tangent")
    }
    let k = max(1, (budgetBytes - residualBytes) / max(1, stateBytes) - 2)
    return ("unroll(reverse, checkpoints: \(min(k, T)))", "the tape (\(formatBytes(tape))) exceeds the budget; \(min(k, T)) checkpoints fit in it")
  }
}

/// Bytes as "512 B", "47.0 KB", "156 MB" (powers of 1024).
public func formatBytes(_ n: Int) -> String {
  let units = ["B", "KB", "MB", "GB", "TB"]
  var x = Double(n)
  var u = 0
  while x >= 1024 && u < units.count - 1 {
    x /= 1024
    u += 1
  }
  if u == 0 { return "\(n) B" }
  return x >= 100 ? "\(Int(x.rounded())) \(units[u])" : "\(formatValue((x * 10).rounded() / 10)) \(units[u])"
}
