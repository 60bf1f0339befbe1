import BilevelCore
import BilevelFrontEnd

/// θ(φ) for every task, with how well it solves the inner problem.
public struct InnerSolution: Sendable {
  public var theta: [[Double]]
  /// Steps run (the most over tasks).
  public var steps: Int
  /// Largest over tasks of ‖∇θ L_in‖ (or ‖E(z) − z‖ for a fixpoint).
  public var residual: Double
  /// Wall time of the solve (all tasks), for --timings.
  public var seconds: Double = 0
  /// Newton stopped at max_steps with ‖∇θ L_in‖ above its tolerance.
  public var stoppedAboveTolerance = false
}

/// Seconds elapsed since `start`, for the run's timings.
public func secondsSince(_ start: ContinuousClock.Instant) -> Double {
  let d = ContinuousClock.now - start
  return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// The program's inner solver, whichever it is: fixed steps (gd, momentum,
/// adam), Newton-CG, or fixed-point iteration; and a tight solve (for
/// implicit methods' checks) that polishes with Newton-CG.
public struct InnerSolver: Sendable {
  let problem: BilevelProblem

  public init(_ problem: BilevelProblem) { self.problem = problem }

  var spec: InnerSolverSpec<NodeID>? { problem.source.innerSolver?.spec }

  /// Fixed steps T of gd, momentum, adam or a rule; nil for solvers that stop at a tolerance.
  public var fixedSteps: Int? { problem.stepRule == nil ? nil : spec?.fixedSteps }

  /// Every task's inner problem, solved in parallel (TaskParallel).
  public func solve(_ phi: [Double]) throws(SolverFault) -> InnerSolution {
    let started = ContinuousClock.now
    let solutions = try problem.eachTask { t throws(SolverFault) in try solve(phi, task: t) }
    var steps = 0
    var residual = 0.0
    for r in solutions {
      steps = max(steps, r.steps)
      residual = max(residual, r.residual)
    }
    var solution = InnerSolution(
      theta: solutions.map(\.theta), steps: steps, residual: residual,
      seconds: secondsSince(started))
    solution.stoppedAboveTolerance = stoppedAboveTolerance(residual)
    return solution
  }

  /// Newton and fixpoint judged by their own tolerance (not `newton(steps:
  /// K)`, which asks for K steps).
  public func stoppedAboveTolerance(_ residual: Double) -> Bool {
    guard let limits = toleranceLimits else { return false }
    return !(residual <= limits.tolerance)
  }

  /// The settings a "not converged" warning quotes: the solver's name, tol
  /// and max_steps.
  public var toleranceLimits: (solver: String, tolerance: Double, maxSteps: Int)? {
    switch spec {
    case .newton(let tolerance, let maxSteps, _, nil)?: return ("newton", tolerance, maxSteps)
    case .fixpoint(let tolerance, let maxSteps)?: return ("fixpoint", tolerance, maxSteps)
    default: return nil
    }
  }

  public func solve(
    _ phi: [Double], task t: Int
  ) throws(SolverFault) -> (theta: [Double], steps: Int, residual: Double) {
    if let T = fixedSteps {
      var runner = FixedStepRunner(problem, task: t, steps: T)
      let s = try runner.run(phi)
      let theta = Array(s.prefix(problem.innerSize))
      return (theta, runner.stepsTaken, try residual(theta, phi, task: t))
    }
    if let tolerances = problem.adaptiveFlow {
      let flow = try problem.solveAdaptiveFlow(phi, task: t, tolerances: tolerances)
      return (flow.theta, flow.steps.count, try residual(flow.theta, phi, task: t))
    }
    let start = problem.initial(t)([.phi: phi])[.theta]
    switch spec {
    case .newton(let tolerance, let maxSteps, let cgIterations, let fixed)?:
      if let k = fixed {
        return try newton(
          start, phi, task: t, tolerance: 0, maxSteps: k, cgIterations: cgIterations,
          fullSteps: true)
      }
      return try newton(
        start, phi, task: t, tolerance: tolerance, maxSteps: maxSteps, cgIterations: cgIterations)
    case .fixpoint(let tolerance, let maxSteps)?:
      return try fixpoint(start, phi, task: t, tolerance: tolerance, maxSteps: maxSteps)
    case nil:
      // closed_form: no inner solver; the method solves the quadratic itself.
      return (start, 0, .nan)
    case .gd?, .momentum?, .adam?, .rule?, .flow?:
      preconditionFailure("fixed-step solvers and the adaptive flow run above")
    }
  }

  /// ‖∇θ L_in‖ at θ, or ‖E(z) − z‖ for a fixpoint.
  public func residual(
    _ theta: [Double], _ phi: [Double], task t: Int
  ) throws(SolverFault) -> Double {
    if problem.hasFixpoint {
      let e = problem.fixpoint(t)([.point: theta, .phi: phi])[.image]
      var s = 0.0
      for k in e.indices { s += (e[k] - theta[k]) * (e[k] - theta[k]) }
      return s.squareRoot()
    }
    guard problem.source.innerLoss != nil else { return .nan }
    return norm(problem.innerGradient(t)([.theta: theta, .phi: phi])[.gradient])
  }

  /// The inner problem solved as tightly as rounding allows: the program's
  /// own solver, then Newton-CG (or more fixed-point iterations) until the
  /// loss stops falling, then steps judged by the gradient itself. What the
  /// implicit methods' checks differentiate.
  public func solveTightly(_ phi: [Double]) throws(SolverFault) -> InnerSolution {
    let first = try solve(phi)
    let tight = try problem.eachTask { t throws(SolverFault) in
      let x = try tighten(first.theta[t], phi, task: t)
      return (x, try residual(x, phi, task: t))
    }
    return InnerSolution(
      theta: tight.map(\.0), steps: first.steps, residual: tight.reduce(0) { max($0, $1.1) })
  }

  /// From a point near the solution, as tight as rounding allows: more
  /// fixed-point iterations, or Newton-CG judged by the loss and then by the gradient.
  public func tighten(
    _ start: [Double], _ phi: [Double], task t: Int
  ) throws(SolverFault) -> [Double] {
    if problem.hasFixpoint {
      return try fixpoint(start, phi, task: t, tolerance: 1e-15, maxSteps: 5000).theta
    }
    let polished = try newton(
      start, phi, task: t, tolerance: 1e-13, maxSteps: 100,
      cgIterations: min(max(200, 2 * problem.innerSize), 500), quiet: true
    ).theta
    return try refine(polished, phi, task: t)
  }

  /// Newton-CG: the step solves H p = −g by CG (truncated at a residual
  /// min(½, √‖g‖)·‖g‖, or at non-positive curvature), then a backtracking
  /// (Armijo) line search on L_in. Near the optimum, where the decrease the
  /// step promises is below the loss's rounding, the step is judged by
  /// ‖∇θ L_in‖ instead (the loss can no longer tell a good step from a bad
  /// one). `fullSteps`: exactly `maxSteps` steps of length 1 with a tight CG
  /// solve. With `quiet`, stalls end the polish instead of failing.
  func newton(
    _ start: [Double], _ phi: [Double], task t: Int, tolerance: Double, maxSteps: Int,
    cgIterations: Int,
    fullSteps: Bool = false, quiet: Bool = false
  ) throws(SolverFault) -> (theta: [Double], steps: Int, residual: Double) {
    let gradient = problem.innerGradient(t)
    let hessian = problem.hessianVector(t)
    gradient.load(.phi, phi)
    hessian.load(.phi, phi)
    var theta = start
    var g = [Double](repeating: 0, count: theta.count)
    func evaluate(_ x: [Double], _ g: inout [Double]) throws(SolverFault) -> Double {
      gradient.load(.theta, x)
      gradient.run()
      gradient.store(.gradient, into: &g)
      let loss = gradient.scalar(.loss)
      guard loss.isFinite, allFinite(g) else {
        throw SolverFault.nonFinite(
          "Newton step (\(problem.taskLabel(t))inner loss) produced a non-finite value",
          in: gradient, problem: problem)
      }
      return loss
    }
    var loss = try evaluate(theta, &g)
    var steps = 0
    var trial = g
    while steps < maxSteps {
      let gNorm = norm(g)
      if gNorm <= tolerance && !fullSteps { break }
      if gNorm == 0 { steps = maxSteps; break }
      hessian.load(.theta, theta)
      let forcing = fullSteps ? 1e-13 * gNorm : min(0.5, gNorm.squareRoot()) * gNorm
      let (p0, report) = try IterativeSolvers.conjugateGradient(
        g.map { -$0 }, iterations: cgIterations, tolerance: forcing / gNorm
      ) {
        (x: [Double], y: inout [Double]) throws(SolverFault) in
        hessian.load(.direction, x)
        hessian.run()
        hessian.store(.product, into: &y)
      }
      // A first direction of non-positive curvature leaves p = 0: fall back to steepest descent.
      var p = p0
      var slope = dot(g, p)
      if report.nonPositiveCurvature != nil && norm(p) == 0 || !(slope < 0) {
        p = g.map { -$0 }
        slope = -gNorm * gNorm
      }
      steps += 1
      if fullSteps {
        theta = zip(theta, p).map { $0 + $1 }
        loss = try evaluate(theta, &g)
        continue
      }
      // The loss's rounding: a few ulps of its size. Below it, Armijo compares noise.
      let byGradient = -slope <= 64 * Double.ulpOfOne * max(abs(loss), Double.leastNormalMagnitude)
      var alpha = 1.0
      var accepted = false
      for _ in 0..<60 {
        let x = zip(theta, p).map { $0 + alpha * $1 }
        if let l = try? evaluate(x, &trial),
          byGradient ? norm(trial) < gNorm : l <= loss + 1e-4 * alpha * slope
        {
          theta = x
          loss = l
          swap(&g, &trial)
          accepted = true
          break
        }
        alpha *= 0.5
      }
      if !accepted {
        if quiet { break }
        throw SolverFault(
          .lineSearchFailed,
          "Newton step \(steps) (\(problem.taskLabel(t))inner loss): the line search found no decrease from \(formatValue(loss)); ‖∇θ L_in‖ = \(formatValue(gNorm))",
          origin: problem.source.innerSolver?.range)
      }
    }
    return (theta, steps, norm(g))
  }

  /// z ← E(z, φ) until ‖E(z) − z‖ ≤ tol.
  func fixpoint(
    _ start: [Double], _ phi: [Double], task t: Int, tolerance: Double, maxSteps: Int
  ) throws(SolverFault)
    -> (theta: [Double], steps: Int, residual: Double)
  {
    let map = problem.fixpoint(t)
    map.load(.phi, phi)
    var z = start
    var next = z
    var residual = Double.infinity
    var first = 0.0
    var steps = 0
    while steps < maxSteps {
      map.load(.point, z)
      map.run()
      map.store(.image, into: &next)
      steps += 1
      guard allFinite(next) else {
        throw SolverFault.nonFinite(
          "fixed-point iteration \(steps) (\(problem.taskLabel(t))fixpoint map) produced a non-finite value",
          in: map, problem: problem)
      }
      var s = 0.0
      for k in z.indices { s += (next[k] - z[k]) * (next[k] - z[k]) }
      residual = s.squareRoot()
      if steps == 1 { first = residual }
      swap(&z, &next)
      if residual <= tolerance { break }
      if residual > 1e10 * max(1, first) {
        throw SolverFault(
          .notAContraction,
          "fixed-point iteration \(steps) (\(problem.taskLabel(t))fixpoint map): ‖E(z) − z‖ = \(formatValue(residual)) grows; the map is not a contraction here",
          origin: problem.source.innerFixpoint?.range)
      }
    }
    return (z, steps, residual)
  }

  /// Newton steps judged by ‖∇θ L_in‖ rather than by L_in (whose test
  /// stalls at rounding long before the gradient does), each a CG solve of
  /// (H + μI) p = −g: the shift μ, 1e-8 of H's mean eigenvalue, keeps flat
  /// directions of a singular Hessian (invariances such as rigid motions or
  /// a shared offset of logits) from amplifying rounding. The full step or
  /// a shorter one, while each cuts the gradient by half at least.
  public func refine(
    _ start: [Double], _ phi: [Double], task t: Int
  ) throws(SolverFault) -> [Double] {
    let gradient = problem.innerGradient(t)
    let hessian = problem.hessianVector(t)
    var x = start
    var g = gradient([.theta: x, .phi: phi])[.gradient]
    var gNorm = norm(g)
    guard gNorm > 0, allFinite(g) else { return x }
    let probe = RandomStream.normal(shape: Shape([x.count]), seed: 4242).scalars
    let meanEigenvalue =
      abs(dot(probe, hessian([.theta: x, .phi: phi, .direction: probe])[.product]))
      / dot(probe, probe)
    let shift = 1e-8 * meanEigenvalue
    for _ in 0..<10 {
      hessian.load(.theta, x)
      hessian.load(.phi, phi)
      let (p, _) = try IterativeSolvers.conjugateGradient(
        g.map { -$0 }, iterations: min(max(100, 2 * problem.innerSize), 500), tolerance: 1e-10
      ) {
        (v: [Double], y: inout [Double]) throws(SolverFault) in
        hessian.load(.direction, v)
        hessian.run()
        hessian.store(.product, into: &y)
        for i in y.indices { y[i] += shift * v[i] }
      }
      var best: (x: [Double], g: [Double], norm: Double)?
      var alpha = 1.0
      for _ in 0..<4 {
        let y = (0..<x.count).map { x[$0] + alpha * p[$0] }
        let gy = gradient([.theta: y, .phi: phi])[.gradient]
        let n = norm(gy)
        if n < gNorm && allFinite(gy) {
          best = (y, gy, n)
          break
        }
        alpha *= 0.5
      }
      guard let b = best else { break }
      let enough = b.norm <= 0.5 * gNorm
      (x, g, gNorm) = (b.x, b.g, b.norm)
      if !enough || gNorm == 0 { break }
    }
    return x
  }
}
