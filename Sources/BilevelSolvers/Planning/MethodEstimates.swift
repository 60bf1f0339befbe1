import BilevelCore
import BilevelFrontEnd

/// Sizes that decide what each hypergradient method costs and whether it
/// applies (survey §4.5, METHODS.md): inner state, steps, outer size, tasks.
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
  public let innerSolver: InnerSolverSpec<NodeID>?
  public let hasFixpoint: Bool
  /// gd with one learning rate for every entry: what finite_difference approximates.
  public let scalarLearningRate: Bool
  /// Whether the inner loss is exactly quadratic in θ (closed_form applies).
  public let quadratic: Bool
  /// A fixed-step solver that stops at a tolerance (tol, max_steps): T is its most steps.
  public let stopsEarly: Bool
  /// Each step is θ − lr ∇θ L_in as written: no schedule, clipping or tolerance.
  public let plainSteps: Bool
  /// Entries a taped step keeps beyond its state (the matrix products its
  /// pullback reads); known once the solver graphs are derived.
  public var residuals = 0
  /// Entries of the proxy parameters α (0 without proxies).
  public let proxyParameters: Int
  /// Inner variables without a `proxy` statement, by name.
  public let unproxied: [String]
  /// Whether the program has any `proxy` statement.
  public let declaresProxy: Bool
  /// Whether an inner-solver setting (lr, momentum, a flow's horizon) reads an
  /// outer variable: the solution-based methods do not see that dependence.
  public let solverReadsOuter: Bool
  /// `outer loss = … over trajectory`: eq. 12's sum over the inner steps.
  public let trajectory: Bool
  /// `start: warm`: each inner solve continues the last (closed_form refuses it).
  public let startsWarm: Bool

  public init(_ program: Program) {
    declaresProxy = !program.proxies.isEmpty
    trajectory = program.outerTrajectory != nil
    startsWarm = program.innerStart == .warm
    proxyParameters = program.proxies.reduce(0) {
      $0 + $1.parameters.reduce(0) { $0 + $1.shape.count }
    }
    unproxied = program.variables(.inner).filter { v in
      !program.proxies.contains { $0.variable == v }
    }
    .map { program.variables[$0].name }
    inner = program.size(.inner)
    outer = program.size(.outer)
    tasks = program.tasks?.count ?? 1
    let solver = program.innerSolver?.spec
    innerSolver = solver
    hasFixpoint = program.innerFixpoint != nil
    let copies: Int
    switch solver {
    case .momentum?: copies = 2
    case .adam?: copies = 3
    default: copies = 1
    }
    // A rule's recurrent states ride along with θ in the unrolled state.
    let ruleState = program.ruleStates.reduce(0) { $0 + $1.shape.count }
    state = inner * copies + (copies == 3 ? 1 : 0) + ruleState
    steps = solver?.fixedSteps
    let readsOuter = program.graph.dependence { op in
      if case .variable(let i) = op { return program.variables[i].level == .outer }
      return false
    }
    solverReadsOuter = (solver?.expressions ?? []).contains { readsOuter[$0] }
    let controls = program.innerControls
    stopsEarly = controls.tolerance != nil
    plainSteps = !stopsEarly && controls.clip == nil && !controls.isScheduled
    if case .gd(let lr, _)? = solver {
      scalarLearningRate = program.graph.shape(lr).isScalar
    } else {
      scalarLearningRate = false
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

  /// The inner solver's name, or "none" (closed_form needs none).
  public var innerSolverName: String { innerSolver?.name ?? "none" }

  /// Why a method cannot differentiate an outer loss summed over the trajectory (nil: it can).
  func refusesTrajectory(_ method: String) -> String? {
    guard trajectory else { return nil }
    return
      "the outer loss is summed over the trajectory θ_1 … θ_T, which \(method) does not differentiate; use unroll(reverse), unroll(reverse, checkpoints: k) or unroll(forward)"
  }

  /// Why a method that unrolls fixed steps cannot (nil: it can).
  /// `flow(method: dopri5)`: its steps are known only once it has run.
  var adaptiveFlow: Bool {
    if case .flow(_, _, _?)? = innerSolver { return true }
    return false
  }
  var adaptiveMaxSteps: Int? {
    if case .flow(_, _, let a?)? = innerSolver { return a.maxSteps }
    return nil
  }

  func needsFixedSteps() -> String? {
    guard steps == nil else { return nil }
    guard let solver = innerSolver else { return "the program names no inner solver to unroll" }
    if adaptiveFlow {
      return
        "it differentiates through a fixed number of inner steps, but flow(method: dopri5) chooses its steps as it runs; use unroll(forward) or adjoint, or flow(method: rk4, steps: …)"
    }
    return
      "it differentiates through a fixed number of inner steps, but '\(solver.name)' stops at a tolerance; use gd, momentum or adam, or implicit(cg)"
  }

  /// Why a method that needs the step count before the steps run cannot (nil: it can).
  func needsKnownSteps(_ what: String) -> String? {
    stopsEarly
      ? "\(what) needs the number of inner steps beforehand, but the inner solver stops at tol; use unroll(reverse) or unroll(forward)"
      : nil
  }

  var perTask: String { tasks > 1 ? " × \(tasks) tasks" : "" }
}

enum Bytes {
  static let double = 8
}

func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

public enum MethodEstimates {
  /// Every method's row, costed with the counts `method` names.
  public static func all(
    _ s: ProblemSizes, costing method: HypergradientMethod?
  ) -> [MethodEstimate] {
    MethodTable.rows(s, costing: method).map { MethodEstimate($0, s) }
  }

  /// `method`'s own row, costed with its counts.
  public static func estimate(_ s: ProblemSizes, of method: HypergradientMethod) -> MethodEstimate {
    MethodEstimate(method, s)
  }

  /// `auto`: the cheapest method that is exact for what the inner solver
  /// computes and fits the memory budget (survey §4.5).
  public static func choose(
    _ s: ProblemSizes, budgetBytes: Int
  ) -> (method: HypergradientMethod, reason: String) {
    if case .flow? = s.innerSolver, !s.trajectory {
      return (
        .adjoint,
        "the inner solver is a flow to a finite horizon, which the solution-based methods do not see; the adjoint ODE differentiates it (the horizon included) in memory independent of the horizon"
      )
    }
    if s.quadratic && s.inner <= 4096 && !s.solverReadsOuter && !s.trajectory && !s.startsWarm {
      return (
        .closedForm,
        "the inner loss is quadratic in θ and d = \(s.inner) ≤ 4096, so one d × d solve is exact"
      )
    }
    guard let T = s.steps else {
      return (
        .implicitConjugateGradient(iterations: 20, tolerance: 1e-10),
        "'\(s.innerSolverName)' solves to a tolerance, so the implicit function theorem applies at its solution"
      )
    }
    let stateBytes = saturatingProduct(s.state, Bytes.double, s.tasks)
    let residualBytes = saturatingProduct(s.residuals, Bytes.double, s.tasks)
    let tape = saturatingSum(
      saturatingProduct(T, saturatingSum(stateBytes, residualBytes)), stateBytes)
    if tape <= budgetBytes {
      return (
        .unrollReverse(checkpoints: nil),
        "the tape of \(T) steps (\(formatBytes(tape))) fits the \(formatBytes(budgetBytes)) budget; reverse mode is exact for the unrolled map"
      )
    }
    let forward = saturatingProduct(s.state, s.outer, Bytes.double, s.tasks)
    if s.outer <= 8 && forward <= budgetBytes {
      return (
        .unrollForward,
        "the tape (\(formatBytes(tape))) exceeds the budget, and m = \(s.outer) is small: forward mode carries a \(formatBytes(forward)) tangent"
      )
    }
    // k snapshots, each with its step's residuals, the working state, the cotangent and one retaken step.
    let k = min(
      max(
        1,
        max(0, budgetBytes - saturatingSum(residualBytes, saturatingProduct(2, stateBytes)))
          / max(1, saturatingSum(stateBytes, residualBytes))), T)
    return (
      .unrollReverse(checkpoints: k),
      "the tape (\(formatBytes(tape))) exceeds the budget; \(k) checkpoints fit in it"
    )
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
  return x >= 100
    ? "\(Int(x.rounded())) \(units[u])" : "\(formatValue((x * 10).rounded() / 10)) \(units[u])"
}
