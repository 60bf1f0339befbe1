import BilevelCore
import BilevelFrontEnd

/// The scalar map φ ↦ F(φ) that a hypergradient method differentiates
/// exactly (METHODS.md, "Checking"), recomputed from scratch at any φ so
/// that central differences can be taken of it.
public enum CheckedMap: Hashable, Sendable {
  /// L_out(θ_T(φ), φ): T steps of the program's fixed-step solver from θ₀(φ).
  case unrolled
  /// The last K steps from s_{T−K} held at its value at φ₀ (K < T).
  case truncated(Int)
  /// L_out(θ(φ₀) + θ₀(φ) − θ₀(φ₀), φ).
  case firstOrder
  /// L_out(Σ softmax(−L_in(θ_k, φ)/τ)_k θ_k, φ), θ_k fixed perturbations of θ(φ₀).
  case evograd(samples: Int, sigma: Double, tau: Double, seed: Int, draws: String?)
  /// L_out(θ*(φ), φ) with the inner problem solved tightly.
  case tight
  /// L_out(P_α(φ), φ), α trained at φ₀ as the first outer step trains it, then held.
  case proxy(ProxySettings)

  /// What the table says the map is.
  public func description(steps T: Int?) -> String {
    switch self {
    case .unrolled:
      return T.map { "unrolled inner solver (T = \($0))" }
        ?? "adaptive inner solver, fresh steps at each φ"
    case .truncated(let k): return "last \(k) of \(T ?? 0) steps, s_{T-\(k)} fixed"
    case .firstOrder: return "inner solution fixed (+ θ₀(φ))"
    case .evograd: return "softmax-weighted perturbations of θ"
    case .tight: return "inner problem solved tightly"
    case .proxy: return "the proxy P_α(φ), α trained at φ₀ and held"
    }
  }
}

/// Evaluates the checked maps. Everything that is held fixed at φ₀ (the
/// inner solution, the stored state s_{T−K}, the perturbed copies, the
/// tight solution the polish starts from) is computed once.
final class CheckedMapEvaluator {
  let problem: BilevelProblem
  let phi0: [Double]
  let solver: InnerSolver
  let steps: Int?
  var solutionCache: InnerSolution?
  var tightCache: InnerSolution?
  var truncatedStates: [Int: [[Double]]] = [:]
  var initialCache: [[Double]]?
  var heldCache: [CheckedMap: [[Double]]] = [:]
  var proxyCache: [ProxySettings: [Double]] = [:]

  init(problem: BilevelProblem, phi0: [Double]) {
    self.problem = problem
    self.phi0 = phi0
    solver = InnerSolver(problem)
    steps = solver.fixedSteps
  }

  /// The program's inner solver at φ₀.
  func solution() throws(SolverFault) -> InnerSolution {
    if let s = solutionCache { return s }
    let s = try solver.solve(phi0)
    solutionCache = s
    return s
  }

  /// The inner problem solved tightly at φ₀.
  func tight() throws(SolverFault) -> InnerSolution {
    if let s = tightCache { return s }
    let s = try solver.solveTightly(phi0)
    tightCache = s
    return s
  }

  /// What "tight" means here: ‖∇θ L_in‖ (‖E(z) − z‖) at most 1e-8 of its
  /// value at θ₀(φ₀) (or absolute, when that is below 1).
  func tightThreshold() throws(SolverFault) -> Double {
    var scale = 1.0
    let initial = initialAtPhi0()
    for t in 0..<problem.tasks {
      scale = max(scale, try solver.residual(initial[t], phi0, task: t))
    }
    return 1e-8 * scale
  }

  func outerLoss(_ theta: [[Double]], _ phi: [Double]) throws(SolverFault) -> Double {
    let f = problem.outerLoss
    f.load(.allTheta, theta.flatMap { $0 })
    f.load(.phi, phi)
    f.run()
    let l = f.scalar(.loss)
    guard l.isFinite else {
      throw SolverFault.nonFinite(
        "the outer loss is not finite near the initial point", in: f, problem: problem)
    }
    return l
  }

  func evaluate(_ map: CheckedMap, at phi: [Double]) throws(SolverFault) -> Double {
    if map == .unrolled, problem.overTrajectory {
      // Eq. 12: the outer loss summed over θ_1 … θ_T.
      let paths = try TrajectoryObjective.trajectories(problem, phi, steps: steps ?? 0)
      var sum = 0.0
      for k in 0..<(steps ?? 0) {
        sum += problem.trajectoryWeight(k) * (try outerLoss(paths.map { $0[k] }, phi))
      }
      return sum
    }
    return try outerLoss(thetas(map, at: phi), phi)
  }

  /// Every task's θ under the map at φ, the tasks in parallel.
  func thetas(_ map: CheckedMap, at phi: [Double]) throws(SolverFault) -> [[Double]] {
    let prepared = try prepare(map)
    return try problem.eachTask { t throws(SolverFault) in try prepared.theta(at: phi, task: t) }
  }

  /// Computes what the map holds at φ₀, so that the per-task work (on
  /// several threads) only reads the value this returns.
  func prepare(_ map: CheckedMap) throws(SolverFault) -> PreparedMap {
    var prepared = PreparedMap(map: map, problem: problem, solver: solver, steps: steps)
    switch map {
    case .unrolled: break
    case .truncated(let k): prepared.truncatedStates = try truncatedStart(k)
    case .firstOrder:
      prepared.solution = try solution()
      prepared.initial = initialAtPhi0()
    case .evograd: prepared.solution = try solution()
    case .tight: prepared.tight = try tight()
    case .proxy(let s):
      if proxyCache[s] == nil {
        proxyCache[s] = try HypernetworkProxy(problem: problem, settings: s).trainedAtStart(phi0)
      }
      prepared.proxyParameters = proxyCache[s]
    }
    return prepared
  }

  /// The per-task maps F_t(φ) = L_out(θ_1(φ₀), …, θ_t(φ), …, θ_M(φ₀), φ) at
  /// each of `points`: [task][point]. Each task's θ_t at the points on its
  /// own thread, then the outer losses (one global plan) in order.
  func taskValues(_ map: CheckedMap, at points: [[Double]]) throws(SolverFault) -> [[Double]] {
    if map == .unrolled, problem.overTrajectory { return try trajectoryTaskValues(at: points) }
    let held = try heldThetas(map)
    let prepared = try prepare(map)
    let moved = try problem.eachTask { t throws(SolverFault) in
      try points.map { phi throws(SolverFault) in try prepared.theta(at: phi, task: t) }
    }
    var values: [[Double]] = []
    for t in 0..<problem.tasks {
      var theta = held
      values.append(
        try points.indices.map { p throws(SolverFault) in
          theta[t] = moved[t][p]
          return try outerLoss(theta, points[p])
        })
    }
    return values
  }

  /// taskValues over the trajectory: task t's θ_1 … θ_T move, the others' are held at φ₀.
  func trajectoryTaskValues(at points: [[Double]]) throws(SolverFault) -> [[Double]] {
    let T = steps ?? 0
    let held = try TrajectoryObjective.trajectories(problem, phi0, steps: T)
    let moved = try points.map { phi throws(SolverFault) in
      try TrajectoryObjective.trajectories(problem, phi, steps: T)
    }
    var values: [[Double]] = []
    for t in 0..<problem.tasks {
      var row: [Double] = []
      for p in points.indices {
        var sum = 0.0
        for k in 0..<T {
          var theta = held.map { $0[k] }
          theta[t] = moved[p][t][k]
          sum += problem.trajectoryWeight(k) * (try outerLoss(theta, points[p]))
        }
        row.append(sum)
      }
      values.append(row)
    }
    return values
  }

  /// The map's θ of every task at φ₀: what the per-task maps hold.
  func heldThetas(_ map: CheckedMap) throws(SolverFault) -> [[Double]] {
    if let h = heldCache[map] { return h }
    let h = try thetas(map, at: phi0)
    heldCache[map] = h
    return h
  }

  /// s_{T−K} at φ₀ for every task.
  func truncatedStart(_ k: Int) throws(SolverFault) -> [[Double]] {
    if let s = truncatedStates[k] { return s }
    let T = steps ?? 0
    let (problem, phi0) = (self.problem, self.phi0)
    let states = try problem.eachTask { t throws(SolverFault) in
      var runner = FixedStepRunner(problem, task: t, steps: T)
      let start = runner.start(phi0)
      return try runner.run(from: start, phi0, steps: 0..<(T - k))
    }
    truncatedStates[k] = states
    return states
  }

  func initialAtPhi0() -> [[Double]] {
    if let c = initialCache { return c }
    let (problem, phi0) = (self.problem, self.phi0)
    let c = problem.eachTask { problem.initial($0)([.phi: phi0])[.theta] }
    initialCache = c
    return c
  }
}

/// What the per-task work under one map reads, computed at φ₀ beforehand:
/// a value, so the tasks' threads share nothing that changes.
struct PreparedMap: Sendable {
  let map: CheckedMap
  let problem: BilevelProblem
  let solver: InnerSolver
  let steps: Int?
  var solution: InnerSolution?
  var initial: [[Double]]?
  var truncatedStates: [[Double]]?
  var tight: InnerSolution?
  var proxyParameters: [Double]?

  init(map: CheckedMap, problem: BilevelProblem, solver: InnerSolver, steps: Int?) {
    self.map = map
    self.problem = problem
    self.solver = solver
    self.steps = steps
  }

  /// Task t's θ under the map at φ.
  func theta(at phi: [Double], task t: Int) throws(SolverFault) -> [Double] {
    let d = problem.innerSize
    switch map {
    case .unrolled:
      // An adaptive flow: its whole map, a fresh grid of accepted steps at each φ.
      if let tolerances = problem.adaptiveFlow {
        return try problem.solveAdaptiveFlow(phi, task: t, tolerances: tolerances).theta
      }
      var runner = FixedStepRunner(problem, task: t, steps: steps ?? 0)
      return Array(try runner.run(phi).prefix(d))
    case .truncated(let k):
      let T = steps ?? 0
      var runner = FixedStepRunner(problem, task: t, steps: T)
      let s = try runner.run(from: truncatedStates![t], phi, steps: (T - k)..<T)
      return Array(s.prefix(d))
    case .firstOrder:
      let base = solution!.theta[t]
      let initial0 = initial![t]
      let now = problem.initial(t)([.phi: phi])[.theta]
      return (0..<d).map { base[$0] + (now[$0] - initial0[$0]) }
    case .evograd(let samples, let sigma, let tau, let seed, let draws):
      let proxy = EvolutionaryProxy(
        problem: problem, samples: samples, sigma: sigma, tau: tau, seed: seed,
        table: draws.map(problem.drawTable))
      return try proxy.proxy(solution!.theta[t], phi, task: t).mean
    case .tight:
      return try polish(tight!.theta[t], phi, task: t)
    case .proxy(let s):
      return HypernetworkProxy(problem: problem, settings: s).theta(proxyParameters!, phi)
    }
  }

  /// θ*(φ) solved tightly, starting from the tight solution at φ₀: the same
  /// branch of solutions (and far fewer steps than the program's solver
  /// from θ₀(φ) followed by the polish).
  func polish(_ start: [Double], _ phi: [Double], task t: Int) throws(SolverFault) -> [Double] {
    try solver.tighten(start, phi, task: t)
  }
}
