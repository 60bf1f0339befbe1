import BilevelFrontEnd
import BilevelSolvers
import TestSupport
import Testing

/// implicit(cg) and implicit(neumann) approach implicit(exact) as their
/// iterations grow, at the same inner solution; CG reports an indefinite
/// inner Hessian instead of silently continuing.
@Suite struct ImplicitConvergenceTests {
  /// Regularised logistic regression, d = 12: H = Xᵀ diag(σ(1−σ)) X / n + λI.
  static let text = """
    dim n = 40, d = 12
    data X = randn(n, d, seed: 61)
    data y = sigmoid(X @ randn(d, seed: 62) + 0.5 * randn(n, seed: 63))
    data Xv = randn(n, d, seed: 64)
    data yv = sigmoid(Xv @ randn(d, seed: 62))
    outer loglam: scalar = -2
    outer b: scalar = 0.3
    inner w: vector[d] = 0
    inner loss = mean(softplus(X @ w + b) - y * (X @ w + b)) + 0.5 * exp(loglam) * sum(w^2)
    outer loss = mean(softplus(Xv @ w) - yv * (Xv @ w)) + 0.1 * b^2
    solve inner with newton(tol: 1e-12)
    hypergradient with implicit(cg, iters: 20)
    solve outer with gd(lr: 0.1, steps: 1)
    """
  static let iterations = [1, 2, 5, 10, 20, 50]

  /// Errors relative to implicit(exact) at each iteration count.
  static func errors(_ phi: [Double], _ method: (Int) -> HypergradientMethod) throws -> [Double] {
    let problem = try SolverFixtures.problem(text)
    let exact = try problem.hypergradient(.implicitExact, at: phi).gradient
    return try iterations.map { k in
      let result = try problem.hypergradient(method(k), at: phi)
      #expect(result.linearSolve != nil)
      #expect((result.linearSolve?.iterations ?? .max) <= k)
      return SolverChecks.relativeError(result.gradient, exact)
    }
  }

  @Test func conjugateGradientsConvergeToTheExactSolve() throws {
    // λ = e⁻²: condition number near 10, so CG needs several iterations.
    let errors = try Self.errors([-2, 0.3]) {
      .implicitConjugateGradient(iterations: $0, tolerance: 1e-15)
    }
    #expect(errors.last! <= 1e-8, "\(errors)")
    #expect(errors.first! >= 1e4 * errors.last!, "\(errors)")
    #expect(errors[0] > 1e-3, "one CG iteration is not already exact: \(errors)")
    // Each iteration count at least as good as a few before it, up to rounding.
    for i in 2..<errors.count { #expect(errors[i] <= errors[i - 2] + 1e-12, "\(errors)") }
    #expect(errors[3] <= 1e-3 * errors[0], "\(errors)")
  }

  @Test func neumannSeriesConvergesToTheExactSolve() throws {
    // λ = 1 and α = 0.5: the spectrum of αH lies in [0.5, 1), so (I − αH)^K shrinks at least 2× per term.
    let errors = try Self.errors([0, 0.3]) { .implicitNeumann(iterations: $0, alpha: 0.5) }
    #expect(errors.last! <= 1e-8, "\(errors)")
    #expect(errors.first! >= 1e4 * errors.last!, "\(errors)")
    for i in 1..<errors.count { #expect(errors[i] <= errors[i - 1] + 1e-13, "monotone: \(errors)") }
    #expect(errors[2] <= 0.5 * errors[1], "\(errors)")
  }

  /// A saddle: L_in = ½(w₁ − φ₁)² − ½(w₂ − φ₂)² + 0.2 (w₁ − φ₁)(w₂ − φ₂). gd started at
  /// w = φ stays there (∇ = 0 exactly), H = [[1, 0.2], [0.2, −1]] is indefinite,
  /// and with L_out = ‖w‖² the first CG direction b = 2φ = (1, 2) has bᵀHb = −2.2.
  static let saddle = """
    outer phi: vector[2] = [0.5, 1.0]
    inner w: vector[2] = phi
    inner loss = 0.5 * (w[1] - phi[1])^2 - 0.5 * (w[2] - phi[2])^2 + 0.2 * (w[1] - phi[1]) * (w[2] - phi[2])
    outer loss = sum(w^2)
    solve inner with gd(lr: 0.1, steps: 5)
    hypergradient with implicit(cg, iters: 10)
    solve outer with gd(lr: 0.1, steps: 1)
    """

  @Test func conjugateGradientsReportNonPositiveCurvature() throws {
    let problem = try SolverFixtures.problem(Self.saddle)
    let phi = problem.initialOuter()
    let cg = try problem.hypergradient(
      .implicitConjugateGradient(iterations: 10, tolerance: 1e-10), at: phi)
    let report = try #require(cg.linearSolve)
    let curvature = try #require(
      report.nonPositiveCurvature, "CG on an indefinite Hessian must say so")
    #expect(curvature.iteration == 1)
    #expect(abs(curvature.curvature - -2.2) <= 1e-12)
    #expect(cg.innerResidual == 0)
    // The exact solve checks the spectrum: a saddle is not the minimum it differentiates.
    #expect {
      try problem.hypergradient(.implicitExact, at: phi)
    } throws: { ($0 as? SolverFault)?.kind == .notAMinimum }
  }

  /// A positive-definite Hessian never triggers the report.
  @Test func conjugateGradientsOnAConvexInnerProblemReportNoCurvatureTrouble() throws {
    let problem = try SolverFixtures.problem(Self.text)
    let cg = try problem.hypergradient(
      .implicitConjugateGradient(iterations: 50, tolerance: 1e-12), at: [-2, 0.3])
    #expect(cg.linearSolve?.nonPositiveCurvature == nil)
    #expect((cg.linearSolve?.relativeResidual ?? 1) <= 1e-12)
  }
}
