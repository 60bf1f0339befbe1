import BilevelCore
import BilevelSolvers
import TestSupport
import Testing

/// A `rule` with recurrent state (`state h: ... = 0 then ...`): the state
/// rides in the unrolled step state after θ, so every unrolled method
/// differentiates through it. References: central differences of the
/// unrolled map (run by the test's own loop), and the built-in momentum
/// solver, which a one-state rule writes out by hand.
@Suite struct RecurrentRuleTests {
  static let steps = 6

  /// A coordinate-wise LSTM (hidden size 2) over Andrychowicz's two gradient
  /// features, in a smooth form, on two tasks of a non-quadratic loss.
  static let lstm = """
    tasks t in 1..2
    dim n = 8, d = 3, k = 2
    data X[t] = randn(n, d, seed: 60 + t)
    data y[t] = randn(n, seed: 70 + t)
    def gate(A, H, b, x, h) = x @ A + h @ H + b
    def features(g) = concat(reshape(log(g^2 + exp(-4)) / 4, d, 1), reshape(tanh(exp(2) * g), d, 1), axis: columns)
    outer A: matrix[2, k] = 0.4 * randn(2, k, seed: 1)
    outer H: matrix[k, k] = 0.4 * randn(k, k, seed: 2)
    outer b: vector[k] = [0.5, -0.2]
    outer Ao: matrix[2, k] = 0.4 * randn(2, k, seed: 3)
    outer W: vector[k] = [-0.3, 0.2]
    inner w[t]: vector[d] = 0
    state c[t]: matrix[d, k] = 0 then sigmoid(gate(A, H, b, features(grad[t]), h[t])) * c[t] + tanh(gate(Ao, H, b, features(grad[t]), h[t]))
    state h[t]: matrix[d, k] = 0 then sigmoid(gate(Ao, H, -b, features(grad[t]), h[t])) * tanh(c[t])
    inner loss[t] = mean((X[t] @ w[t] - y[t])^2) + 0.2 * mean(softplus(X[t] @ w[t]))
    outer loss = mean over t: mean((X[t] @ w[t] + 0.3 - y[t])^2)
    solve inner with rule(update: h[t] @ W - 0.1 * grad[t], steps: \(steps))
    hypergradient with unroll(reverse)
    solve outer with gd(lr: 0.1, steps: 1)
    """

  /// A coordinate-wise GRU (one state, gates from the previous state).
  static let gru = """
    dim n = 8, d = 3, k = 2
    data X = randn(n, d, seed: 81)
    data y = randn(n, seed: 82)
    outer Az: vector[k] = [0.5, -0.4]
    outer Ah: vector[k] = [0.3, 0.7]
    outer U: matrix[k, k] = [[0.2, -0.1], [0.4, 0.3]]
    outer W: vector[k] = [-0.4, -0.2]
    inner w: vector[d] = 0
    state h: matrix[d, k] = 0 then (1 - sigmoid(outer(grad, Az) + h @ U)) * h + sigmoid(outer(grad, Az) + h @ U) * tanh(outer(grad, Ah) + (sigmoid(outer(grad, Az)) * h) @ U)
    inner loss = mean((X @ w - y)^2) + 0.1 * sum(w^4)
    outer loss = mean((X @ w - y + 0.2)^2)
    solve inner with rule(update: h @ W, steps: \(steps))
    hypergradient with unroll(reverse)
    solve outer with gd(lr: 0.1, steps: 1)
    """

  static func point(_ problem: BilevelProblem) -> [Double] {
    problem.initialOuter().enumerated().map { $0.element + 0.03 * Double($0.offset % 4 + 1) }
  }

  @Test(arguments: ["lstm", "gru"])
  func unrolledMethodsAgreeWithCentralDifferences(_ label: String) throws {
    let problem = try SolverFixtures.problem(label == "lstm" ? Self.lstm : Self.gru)
    #expect(problem.stateSize > problem.innerSize)
    let phi = Self.point(problem)
    let reverse = try problem.hypergradient(.unrollReverse(checkpoints: nil), at: phi)
    let differences = try SolverChecks.centralDifferences(
      { x in
        SolverChecks.outerLoss(problem, try SolverChecks.unrolledTheta(problem, x), x)
      }, at: phi)
    #expect(reverse.gradient.contains { abs($0) > 1e-6 })
    let error = SolverChecks.relativeError(reverse.gradient, differences)
    #expect(error <= 1e-8, "\(label): reverse \(reverse.gradient) vs differences \(differences)")

    let forward = try problem.hypergradient(.unrollForward, at: phi)
    #expect(SolverChecks.relativeError(forward.gradient, reverse.gradient) <= 1e-12)
    for k in [1, 2, Self.steps] {
      let checkpointed = try problem.hypergradient(.unrollReverse(checkpoints: k), at: phi)
      #expect(checkpointed.gradient.map(\.bitPattern) == reverse.gradient.map(\.bitPattern))
    }
    let truncated = try problem.hypergradient(.truncated(steps: Self.steps), at: phi)
    #expect(SolverChecks.relativeError(truncated.gradient, reverse.gradient) <= 1e-12)
    // Truncating through the state: fewer steps give a different (biased) estimate.
    let short = try problem.hypergradient(.truncated(steps: 2), at: phi)
    #expect(SolverChecks.relativeError(short.gradient, reverse.gradient) > 1e-6)
  }

  /// Momentum written as a rule with one state is the built-in momentum
  /// solver: the same trajectory and the same hypergradient.
  @Test func aStateRuleReproducesMomentum() throws {
    func program(_ solver: String, state: String) -> String {
      """
      dim n = 10, d = 3
      data X = randn(n, d, seed: 91)
      data y = randn(n, seed: 92)
      outer loglr: scalar = -2
      outer logwd: scalar = -1
      inner w: vector[d] = 0
      \(state)
      inner loss = mean((X @ w - y)^2) + exp(logwd) * sum(w^2) + 0.1 * mean(softplus(X @ w))
      outer loss = mean((X @ w - y + 0.5)^2)
      solve inner with \(solver)
      hypergradient with unroll(reverse)
      solve outer with gd(lr: 0.1, steps: 1)
      """
    }
    let builtIn = try SolverFixtures.problem(
      program("momentum(lr: exp(loglr), momentum: 0.7, steps: 12)", state: ""))
    let rule = try SolverFixtures.problem(
      program(
        "rule(update: -exp(loglr) * v, steps: 12)",
        state: "state v: vector[d] = 0 then 0.7 * v + grad"))
    let phi = [-1.7, -0.8]
    #expect(rule.stateSize == builtIn.stateSize)
    let a = try builtIn.hypergradient(.unrollReverse(checkpoints: nil), at: phi)
    let b = try rule.hypergradient(.unrollReverse(checkpoints: nil), at: phi)
    #expect(SolverChecks.relativeError(a.theta[0], b.theta[0]) <= 1e-14)
    #expect(
      SolverChecks.relativeError(a.gradient, b.gradient) <= 1e-13, "\(a.gradient) \(b.gradient)")
  }

  /// A state's start is its declared value, broadcast to its shape.
  @Test func statesStartFromTheirDeclaredValues() throws {
    let text = Self.gru.replacingOccurrences(
      of: "state h: matrix[d, k] = 0", with: "state h: matrix[d, k] = [0.1, -0.2]")
    let problem = try SolverFixtures.problem(text)
    var runner = FixedStepRunner(problem, task: 0, steps: 1)
    let s = runner.start(problem.initialOuter())
    #expect(s.count == problem.innerSize + 6)
    #expect(Array(s.suffix(6)) == [0.1, -0.2, 0.1, -0.2, 0.1, -0.2])
  }
}
