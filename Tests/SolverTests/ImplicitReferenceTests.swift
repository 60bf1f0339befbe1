import BilevelFrontEnd
import BilevelSolvers
import Foundation
import TestSupport
import Testing

/// implicit(exact) on non-quadratic inner problems against central
/// differences of the tightly solved map: a regularised logistic regression
/// (Newton inner solver) and a small deep-equilibrium fixpoint, whose map and
/// hypergradient are also written out by hand here.
@Suite struct ImplicitReferenceTests {
  static let logistic = """
    dim n = 30, nv = 20, d = 5
    data X = randn(n, d, seed: 51)
    data y = sigmoid(X @ randn(d, seed: 53) + 0.5 * randn(n, seed: 54))
    data Xv = randn(nv, d, seed: 55)
    data yv = sigmoid(Xv @ randn(d, seed: 53) + 0.5 * randn(nv, seed: 56))
    outer loglam: scalar = -1
    outer b: scalar = 0.2
    outer scale: vector[d] = [1, 0.8, 1.2, 0.9, 1.1]
    inner w: vector[d] = 0
    inner loss = mean(softplus(X @ (scale * w) + b) - y * (X @ (scale * w) + b)) + 0.5 * exp(loglam) * sum(w^2)
    outer loss = mean(softplus(Xv @ w) - yv * (Xv @ w)) + 0.1 * b^2
    solve inner with newton(tol: 1e-12)
    hypergradient with implicit(exact)
    solve outer with gd(lr: 0.1, steps: 1)
    """

  @Test func implicitExactMatchesDifferencesOfTheTightlySolvedMap() throws {
    let problem = try SolverFixtures.problem(Self.logistic)
    let phi = problem.initialOuter()
    let solver = InnerSolver(problem)
    let differences = try SolverChecks.centralDifferences(
      { p in
        SolverChecks.outerLoss(problem, try solver.solveTightly(p).theta, p)
      }, at: phi)
    let exact = try problem.hypergradient(.implicitExact, at: phi)
    #expect(exact.innerResidual <= 1e-10)
    #expect(
      SolverChecks.relativeError(exact.gradient, differences) <= 1e-6,
      "\(exact.gradient) vs \(differences)")
    #expect(exact.gradient.allSatisfy { abs($0) > 1e-6 }, "\(exact.gradient)")
    let cg = try problem.hypergradient(
      .implicitConjugateGradient(iterations: 30, tolerance: 1e-14), at: phi)
    #expect(SolverChecks.relativeError(cg.gradient, exact.gradient) <= 1e-9)
  }

  /// Three tasks pulled towards a shared prior mean mu with a shared strength.
  static func multiTask(quadratic: Bool) -> String {
    """
    tasks t in 1..3
    dim n = 8, d = 3
    data XA = randn(3 * n, d, seed: 71)
    data xs[t] = XA[(t - 1) * n + 1 : t * n, :]
    data ys[t] = randn(n, seed: t)
    outer loglam: scalar = -1
    outer mu: vector[d] = [0.2, -0.1, 0.3]
    inner w[t]: vector[d] = 0
    inner loss[t] = mean((xs[t] @ w[t] - ys[t])^2) + exp(loglam) * sum((w[t] - mu)^2)\(quadratic ? "" : " + 0.2 * sum(softplus(w[t]))")
    outer loss = mean over t: mean((xs[t] @ w[t] + 0.3 - ys[t])^2)
    solve inner with newton(tol: 1e-12)
    hypergradient with implicit(exact)
    solve outer with gd(lr: 0.1, steps: 1)
    """
  }

  @Test(arguments: [true, false])
  func multiTaskImplicitExactMatchesDifferencesOfTheTightlySolvedMap(_ quadratic: Bool) throws {
    let problem = try SolverFixtures.problem(Self.multiTask(quadratic: quadratic))
    #expect(problem.tasks == 3)
    let phi = problem.initialOuter()
    let solver = InnerSolver(problem)
    let differences = try SolverChecks.centralDifferences(
      { p in
        SolverChecks.outerLoss(problem, try solver.solveTightly(p).theta, p)
      }, at: phi)
    let exact = try problem.hypergradient(.implicitExact, at: phi)
    #expect(
      SolverChecks.relativeError(exact.gradient, differences) <= 1e-6,
      "\(exact.gradient) vs \(differences)")
    if quadratic {
      let closed = try problem.hypergradient(.closedForm, at: phi)
      #expect(
        SolverChecks.relativeError(closed.gradient, exact.gradient) <= 1e-10,
        "\(closed.gradient) vs \(exact.gradient)")
      for t in 0..<3 {
        #expect(SolverChecks.relativeError(closed.theta[t], exact.theta[t]) <= 1e-10)
      }
    }
  }

  // MARK: A deep-equilibrium fixpoint z = tanh(W z + s x + b), φ = (b, s).

  static let h = 4
  static let deq: (W: [[Double]], x: [Double], target: [Double]) = {
    var r = TestRandom(seed: TestRandom.seed("deq"))
    let W = (0..<h).map { _ in r.normals(h).map { 0.6 * $0 / Double(h) } }
    return (W, r.normals(h), r.normals(h).map { 0.3 * $0 })
  }()
  static let deqPhi: [Double] = [0.1, -0.2, 0.3, 0, 0.5]

  static let deqText = """
    dim h = \(h)
    data W = \(SolverFixtures.literal(rows: deq.W))
    data x = \(SolverFixtures.literal(deq.x))
    data target = \(SolverFixtures.literal(deq.target))
    outer b: vector[h] = \(SolverFixtures.literal(Array(deqPhi.prefix(h))))
    outer s: scalar = \(deqPhi[h])
    inner z: vector[h] = 0
    inner fixpoint z = tanh(W @ z + s * x + b)
    outer loss = 0.5 * sum((z - target)^2) + 0.1 * s^2
    solve inner with fixpoint(tol: 1e-13, max_steps: 500)
    hypergradient with implicit(exact)
    solve outer with gd(lr: 0.1, steps: 1)
    """

  /// The equilibrium by the test's own fixed-point loop.
  static func equilibrium(_ phi: [Double]) -> [Double] {
    let (W, x, _) = deq
    var z = [Double](repeating: 0, count: h)
    for _ in 0..<10_000 {
      let next = (0..<h).map { i in tanh(Dense.dot(W[i], z) + phi[h] * x[i] + phi[i]) }
      let change = zip(next, z).reduce(0) { max($0, abs($1.0 - $1.1)) }
      z = next
      if change == 0 { break }
    }
    return z
  }

  static func deqLoss(_ phi: [Double]) -> Double {
    let z = equilibrium(phi)
    return 0.5 * zip(z, deq.target).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } + 0.1 * phi[h]
      * phi[h]
  }

  /// By hand: (I − D W)ᵀ u = z − target with D = diag(1 − z²); dF/db = D u, dF/ds = ⟨D u, x⟩ + 0.2 s.
  static func deqGradient(_ phi: [Double]) -> [Double] {
    let z = equilibrium(phi)
    let D = z.map { 1 - $0 * $0 }
    let jacobian = (0..<h).map { i in deq.W[i].map { D[i] * $0 } }
    let system = PlainAlgebra.transpose(
      PlainAlgebra.add(PlainAlgebra.identity(h), jacobian, scale: -1))
    let u = PlainAlgebra.solve(system, zip(z, deq.target).map { $0 - $1 })
    let gb = zip(D, u).map { $0 * $1 }
    return gb + [Dense.dot(gb, deq.x) + 0.2 * phi[h]]
  }

  @Test func fixpointImplicitExactMatchesTheHandWrittenEquilibrium() throws {
    let problem = try SolverFixtures.problem(Self.deqText)
    let phi = problem.initialOuter()
    #expect(phi == Self.deqPhi)
    let differences = try SolverChecks.centralDifferences(Self.deqLoss, at: phi)
    let formula = Self.deqGradient(phi)
    #expect(SolverChecks.relativeError(formula, differences) <= 1e-8)

    let exact = try problem.hypergradient(.implicitExact, at: phi)
    #expect(SolverChecks.relativeError(exact.theta[0], Self.equilibrium(phi)) <= 1e-12)
    #expect(
      SolverChecks.relativeError(exact.gradient, differences) <= 1e-6,
      "\(exact.gradient) vs \(differences)")
    #expect(
      SolverChecks.relativeError(exact.gradient, formula) <= 1e-10,
      "\(exact.gradient) vs \(formula)")

    // The engine's own tight solve gives the same map.
    let tight = try SolverChecks.centralDifferences(
      { p in
        SolverChecks.outerLoss(problem, try InnerSolver(problem).solveTightly(p).theta, p)
      }, at: phi)
    #expect(SolverChecks.relativeError(exact.gradient, tight) <= 1e-6)

    // The fixpoint system is not symmetric: `cg` runs BiCGSTAB there.
    let iterative = try problem.hypergradient(
      .implicitConjugateGradient(iterations: 50, tolerance: 1e-14), at: phi)
    #expect(
      SolverChecks.relativeError(iterative.gradient, formula) <= 1e-9,
      "\(iterative.gradient) vs \(formula)")
  }
}
