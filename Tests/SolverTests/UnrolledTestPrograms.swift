import BilevelSolvers
import TestSupport

/// Small non-quadratic programs whose inner solver is unrolled: a learned
/// learning rate lr = exp(loglr), a learned weight decay, and an initial
/// point θ₀ = w0 that is itself an outer variable (as in MAML), so every
/// path of φ into the unrolled map is exercised.
enum UnrolledTestPrograms {
  static let steps = 20

  /// The inner solver statements the tests run, by name.
  static let solvers: [String: String] = [
    "gd": "gd(lr: exp(loglr), steps: \(steps))",
    "momentum": "momentum(lr: exp(loglr), steps: \(steps), momentum: 0.7)",
    "adam": "adam(lr: exp(loglr), steps: \(steps), beta1: 0.8, beta2: 0.9)",
  ]

  static func singleTask(_ solver: String) -> String {
    """
    dim n = 10, d = 3
    data X = randn(n, d, seed: 31)
    data y = randn(n, seed: 32)
    data Xv = randn(n, d, seed: 33)
    data yv = randn(n, seed: 34)
    outer loglr: scalar = -2.5
    outer logwd: scalar = -2
    outer w0: vector[d] = [0.3, -0.2, 0.5]
    inner w: vector[d] = w0
    inner loss = mean((X @ w - y)^2) + 0.3 * mean(softplus(X @ w)) + exp(logwd) * sum(w^2)
    outer loss = mean((Xv @ w - yv)^2) + 0.1 * sum((w0 - 0.2)^2)
    solve inner with \(solvers[solver]!)
    hypergradient with unroll(reverse)
    solve outer with gd(lr: 0.1, steps: 1)
    """
  }

  /// Three tasks sharing φ = (loglr, w0); each task starts at w0.
  static func multiTask(_ solver: String) -> String {
    """
    tasks t in 1..3
    dim n = 6, d = 3
    data XA = randn(3 * n, d, seed: 41)
    data xs[t] = XA[(t - 1) * n + 1 : t * n, :]
    data ys[t] = randn(n, seed: t)
    outer loglr: scalar = -2
    outer w0: vector[d] = [0.1, -0.2, 0.3]
    inner w[t]: vector[d] = w0
    inner loss[t] = mean((xs[t] @ w[t] - ys[t])^2) + 0.1 * sum(softplus(w[t]))
    outer loss = mean over t: mean((xs[t] @ w[t] + 0.5 - ys[t])^2) + 0.01 * sum(w0^2)
    solve inner with \(solvers[solver]!)
    hypergradient with unroll(reverse)
    solve outer with gd(lr: 0.1, steps: 1)
    """
  }

  /// The programs by a label the parameterised tests print.
  static let cases: [String] = [
    "gd", "momentum", "adam", "tasks/gd", "tasks/momentum", "tasks/adam",
  ]

  static func problem(_ label: String) throws -> BilevelProblem {
    if label.hasPrefix("tasks/") {
      return try SolverFixtures.problem(multiTask(String(label.dropFirst(6))))
    }
    return try SolverFixtures.problem(singleTask(label))
  }

  /// φ moved off the initial point (every entry), so no coordinate sits at a special value.
  static func point(_ problem: BilevelProblem) -> [Double] {
    problem.initialOuter().enumerated().map { $0.element + 0.05 * Double($0.offset % 3 + 1) }
  }
}
