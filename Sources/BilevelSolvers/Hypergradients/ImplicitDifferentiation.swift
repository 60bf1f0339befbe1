import BilevelCore
import BilevelFrontEnd

/// `implicit(cg | neumann | exact)`: at the inner solution, solve the
/// adjoint system H v = ∂L_out/∂θ and take dL_out/dφ = ∂L_out/∂φ −
/// (∂²L_in/∂φ∂θ) v. For an inner fixpoint z = E(z, φ) the system is
/// (I − ∂E/∂z)ᵀ v = ∂L_out/∂z and the gradient ∂L_out/∂φ + (∂E/∂φ)ᵀ v; that
/// system is not symmetric, so `cg` runs BiCGSTAB there.
struct ImplicitDifferentiation {
  let problem: BilevelProblem
  let method: HypergradientMethod

  func compute(_ phi: [Double]) throws(SolverFault) -> HypergradientResult {
    let solution = try InnerSolver(problem).solve(phi)
    return try differentiate(at: solution, phi)
  }

  /// The hypergradient at a given inner solution.
  func differentiate(
    at solution: InnerSolution, _ phi: [Double], factorisations: [DenseSolver]? = nil
  ) throws(SolverFault) -> HypergradientResult {
    let (loss, g0) = try problem.outerGradientOuter(solution.theta, phi)
    let rhs = try problem.outerGradientsInner(solution.theta, phi)
    // Each task's adjoint solve and its φ-part, in parallel.
    let perTask = try problem.eachTask {
      t throws(SolverFault) -> (part: [Double], report: LinearSolveReport) in
      var part = problem.accumulator(t, explicit: g0)
      let (v, report) = try adjoint(
        rhs[t], theta: solution.theta[t], phi, task: t, factorisation: factorisations?[t])
      if problem.hasFixpoint {
        let f = problem.fixpointPullback(t)
        f.load(.point, solution.theta[t])
        f.load(.phi, phi)
        f.load(.cotangent, v)
        f.run()
        f.accumulate(.outerCotangent, into: &part)
      } else {
        let f = problem.mixed(t)
        f.load(.theta, solution.theta[t])
        f.load(.phi, phi)
        f.load(.direction, v)
        f.run()
        f.accumulate(.product, into: &part, scale: -1)
      }
      return (part, report)
    }
    var worst: LinearSolveReport?
    for (_, report) in perTask
    where worst == nil || report.relativeResidual > worst!.relativeResidual
      || report.nonPositiveCurvature != nil
    {
      worst = report
    }
    var result = HypergradientResult(
      parts: perTask.map(\.part), explicit: g0, outerLoss: loss.isFinite ? loss : .nan,
      theta: solution.theta,
      innerSteps: solution.steps, innerResidual: solution.residual, linearSolve: worst,
      forwardSteps: solution.steps, peakStates: 1)
    result.innerSolveSeconds = solution.seconds
    result.finalStates = problem.wholeStates(solution)
    guard allFinite(result.gradient) else {
      throw SolverFault(
        .nonFinite, "the implicit hypergradient is not finite (the adjoint solve failed)",
        origin: problem.source.hypergradient?.range)
    }
    return result
  }

  /// A·x for the adjoint system: H x, or x − (∂E/∂z)ᵀ x for a fixpoint.
  func adjointOperator(_ theta: [Double], _ phi: [Double], task t: Int) -> MatrixProduct {
    let problem = self.problem
    func failure(_ product: String) -> String {
      "a \(product) product of the adjoint solve (\(problem.taskLabel(t))implicit) is not finite"
    }
    if problem.hasFixpoint {
      let f = problem.fixpointPullback(t)
      return { (x: [Double], y: inout [Double]) throws(SolverFault) in
        f.load(.point, theta)
        f.load(.phi, phi)
        f.load(.cotangent, x)
        f.run()
        f.store(.pointCotangent, into: &y)
        for i in y.indices { y[i] = x[i] - y[i] }
        guard allFinite(y) else {
          throw SolverFault.nonFinite(failure("fixpoint vector-Jacobian"), in: f, problem: problem)
        }
      }
    }
    let f = problem.hessianVector(t)
    return { (x: [Double], y: inout [Double]) throws(SolverFault) in
      f.load(.theta, theta)
      f.load(.phi, phi)
      f.load(.direction, x)
      f.run()
      f.store(.product, into: &y)
      guard allFinite(y) else {
        throw SolverFault.nonFinite(failure("Hessian-vector"), in: f, problem: problem)
      }
    }
  }

  func adjoint(
    _ rhs: [Double], theta: [Double], _ phi: [Double], task t: Int, factorisation: DenseSolver?
  ) throws(SolverFault)
    -> (x: [Double], report: LinearSolveReport)
  {
    let apply = adjointOperator(theta, phi, task: t)
    switch method {
    case .implicitConjugateGradient(let iterations, let tolerance):
      return problem.hasFixpoint
        ? try IterativeSolvers.biconjugateGradientStabilized(
          rhs, iterations: iterations, tolerance: tolerance, apply: apply)
        : try IterativeSolvers.conjugateGradient(
          rhs, iterations: iterations, tolerance: tolerance, apply: apply)
    case .implicitNeumann(let iterations, let alpha):
      return try IterativeSolvers.neumann(
        rhs, iterations: iterations, alpha: alpha,
        alphaOrigin: problem.source.hypergradient?.settingRange("alpha"), apply: apply)
    default:
      let solver: DenseSolver
      if let f = factorisation {
        solver = f
      } else {
        solver = try factorise(theta, phi, task: t)
      }
      let v = solver.solve(rhs)
      var scratch = [Double](repeating: 0, count: rhs.count)
      var report = LinearSolveReport(
        iterations: 1, residual: 0, relativeResidual: 0,
        method: solver.usedCholesky ? "Cholesky" : "LU")
      try report.measure(rhs, v, scratch: &scratch, apply: apply)
      return (v, report)
    }
  }

  /// The adjoint matrix formed from d products and factorised. The inner
  /// Hessian must be positive definite (Cholesky succeeds): at a maximiser
  /// or saddle the method would differentiate a point that is no minimum.
  /// Faults name `title`, the method actually run, at the inner loss.
  func factorise(
    _ theta: [Double], _ phi: [Double], task t: Int,
    title: String = HypergradientMethod.implicitExact.title
  ) throws(SolverFault) -> DenseSolver {
    let n = theta.count
    let apply = adjointOperator(theta, phi, task: t)
    var unit = [Double](repeating: 0, count: n)
    let a = try DenseSolver.assemble(n: n, symmetric: !problem.hasFixpoint) {
      (j: Int, out: inout [Double]) throws(SolverFault) in
      unit[j] = 1
      try apply(unit, &out)
      unit[j] = 0
    }
    let fixpoint = problem.hasFixpoint
    let origin = fixpoint ? problem.source.innerFixpoint?.range : problem.source.innerLossRange
    let matrix = fixpoint ? "matrix I − ∂E/∂z" : "inner Hessian"
    guard let solver = DenseSolver(a, n: n, trySymmetric: !fixpoint) else {
      throw SolverFault(
        .singularSystem, at: title,
        "the \(matrix) is singular at the inner solution (\(problem.taskLabel(t))d = \(n))",
        origin: origin)
    }
    if !fixpoint && !solver.usedCholesky {
      throw SolverFault(
        .notAMinimum, at: title,
        "the inner Hessian is not positive definite at the inner solution (\(problem.taskLabel(t))d = \(n)): the point is a maximum or saddle of the inner loss, not its minimum",
        origin: origin)
    }
    return solver
  }
}

/// `closed_form`: the inner loss is quadratic in θ, so θ* = θ₀ − H⁻¹ ∇θ L_in(θ₀)
/// exactly, from one d×d factorisation that the exact adjoint solve reuses.
struct ClosedForm {
  let problem: BilevelProblem

  func compute(_ phi: [Double]) throws(SolverFault) -> HypergradientResult {
    let implicit = ImplicitDifferentiation(problem: problem, method: .implicitExact)
    let solver = InnerSolver(problem)
    let perTask = try problem.eachTask {
      t throws(SolverFault) -> (theta: [Double], factors: DenseSolver, residual: Double) in
      let start = problem.initial(t)([.phi: phi])[.theta]
      let factors = try implicit.factorise(
        start, phi, task: t, title: HypergradientMethod.closedForm.title)
      let step = factors.solve(problem.innerGradient(t)([.theta: start, .phi: phi])[.gradient])
      let x = zip(start, step).map { $0 - $1 }
      guard allFinite(x) else {
        throw SolverFault(
          .nonFinite, "closed_form: the solution of the quadratic inner problem is not finite",
          origin: problem.source.innerLossRange)
      }
      return (x, factors, try solver.residual(x, phi, task: t))
    }
    let solution = InnerSolution(
      theta: perTask.map(\.theta), steps: 0, residual: perTask.reduce(0) { max($0, $1.residual) })
    return try implicit.differentiate(at: solution, phi, factorisations: perTask.map(\.factors))
  }
}
