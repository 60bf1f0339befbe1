import BilevelCore
import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

@testable import BilevelSolvers

/// Minibatch streams: the unrolled methods replay each inner step's batch,
/// so reverse, forward and checkpointed agree, and the hypergradient is the
/// derivative of the map with the stream held fixed, computed here by hand.
@Suite struct MinibatchTests {
  static let n = 24
  static let d = 3
  static let size = 5
  static let steps = 6

  /// Ridge on a batch of 5 of 24 rows per inner step; `solver` sets the step rule.
  static func program(
    _ solver: String, per: String = "inner_step", replace: String = "false"
  )
    -> String
  {
    """
    dim n = \(n), d = \(d)
    data X = randn(n, d, seed: 11)
    data y = X @ [1, -2, 0.5] + 0.3 * randn(n, seed: 12)
    data Xv = randn(8, d, seed: 13)
    data yv = Xv @ [1, -2, 0.5]
    batch b = rows(n, size: \(size), seed: 5, per: \(per), replace: \(replace))
    outer loglam: scalar = -1
    outer w0: vector[d] = [0.2, 0.1, -0.3]
    inner w: vector[d] = w0
    inner loss = mean((X[b, :] @ w - y[b])^2) + exp(loglam) * sum(w^2)
    outer loss = mean((Xv @ w - yv)^2)
    solve inner with \(solver)
    hypergradient with unroll(reverse)
    solve outer with adam(lr: 0.1, steps: 3)
    """
  }

  static let phi = [-0.7, 0.3, -0.1, 0.2]

  @Test(arguments: [
    "gd(lr: 0.1, steps: \(steps))", "momentum(lr: 0.05, momentum: 0.8, steps: \(steps))",
    "adam(lr: 0.05, steps: \(steps))",
  ])
  func reverseForwardAndCheckpointedAgree(_ solver: String) throws {
    let problem = try SolverFixtures.problem(Self.program(solver))
    for outerStep in [0, 3] {
      let reverse = try problem.hypergradient(
        .unrollReverse(checkpoints: nil), at: Self.phi, outerStep: outerStep)
      for method: HypergradientMethod in [.unrollForward, .unrollReverse(checkpoints: 2)] {
        let other = try problem.hypergradient(method, at: Self.phi, outerStep: outerStep)
        #expect(
          SolverChecks.relativeError(other.gradient, reverse.gradient) <= 1e-10,
          "\(solver) \(method.description): \(other.gradient) vs \(reverse.gradient)")
        #expect(other.outerLoss == reverse.outerLoss)
      }
    }
  }

  /// The unrolled gd map written out in Swift: θ_{k+1} = θ_k − lr ∇L_in on
  /// the batch MinibatchStream draws for step k; no engine code involved.
  static func handMap(_ program: Program, _ phi: [Double], outerStep: Int, lr: Double) -> Double {
    let x = program.data[0].values[0].scalars
    let y = program.data[1].values[0].scalars
    let xv = program.data[2].values[0].scalars
    let yv = program.data[3].values[0].scalars
    let stream = program.batches[0]
    let lam = Foundation.exp(phi[0])
    var w = Array(phi[1...])
    for k in 0..<steps {
      let rows = stream.rows(outer: outerStep, inner: k)
      var g = w.map { 2 * lam * $0 }
      for r in rows {
        let residual = (0..<d).reduce(0.0) { $0 + x[r * d + $1] * w[$1] } - y[r]
        for j in 0..<d { g[j] += 2 * residual * x[r * d + j] / Double(size) }
      }
      for j in 0..<d { w[j] -= lr * g[j] }
    }
    var loss = 0.0
    for r in 0..<8 {
      let e = (0..<d).reduce(0.0) { $0 + xv[r * d + $1] * w[$1] } - yv[r]
      loss += e * e / 8
    }
    return loss
  }

  @Test(arguments: ["false", "true"])
  func unrolledHypergradientIsTheDerivativeOfTheMapWithTheStreamFixed(_ replace: String) throws {
    let problem = try SolverFixtures.problem(
      Self.program("gd(lr: 0.1, steps: \(Self.steps))", replace: replace))
    for outerStep in [0, 2] {
      let reference = try SolverChecks.centralDifferences(
        { Self.handMap(problem.program, $0, outerStep: outerStep, lr: 0.1) }, at: Self.phi)
      let result = try problem.hypergradient(
        .unrollReverse(checkpoints: nil), at: Self.phi, outerStep: outerStep)
      #expect(
        abs(
          result.outerLoss - Self.handMap(problem.program, Self.phi, outerStep: outerStep, lr: 0.1))
          <= 1e-13)
      #expect(
        SolverChecks.relativeError(result.gradient, reference) <= 1e-7,
        "\(result.gradient) vs \(reference)")
    }
    // A different outer step draws other batches, so another map.
    let first = try problem.hypergradient(.unrollReverse(checkpoints: nil), at: Self.phi)
    let later = try problem.hypergradient(
      .unrollReverse(checkpoints: nil), at: Self.phi, outerStep: 1)
    #expect(first.gradient != later.gradient)
  }

  /// A run's bits do not depend on the thread count.
  @Test func runsAreBitIdenticalOnOneAndTwoThreads() throws {
    var finals: [[Double]] = []
    for threads in [1, 2] {
      let problem = try SolverFixtures.problem(Self.program("adam(lr: 0.05, steps: 6)"))
      problem.threads = threads
      let report = BilevelRun(problem: problem, method: .unrollReverse(checkpoints: nil)).run()
      #expect(report.fault == nil)
      finals.append(report.phi + (report.final?.gradient ?? []))
    }
    #expect(finals[0] == finals[1])
  }

  /// Drawn per outer step, every inner step sees one batch: the map is that
  /// of full-batch gd on those rows.
  @Test func perOuterStepHoldsOneBatchForAllInnerSteps() throws {
    let problem = try SolverFixtures.problem(
      Self.program("gd(lr: 0.1, steps: \(Self.steps))", per: "outer_step"))
    let stream = problem.program.batches[0]
    #expect(stream.rows(outer: 4, inner: 0) == stream.rows(outer: 4, inner: 5))
    #expect(stream.rows(outer: 4, inner: 0) != stream.rows(outer: 5, inner: 0))
    let reverse = try problem.hypergradient(.unrollReverse(checkpoints: nil), at: Self.phi)
    let forward = try problem.hypergradient(.unrollForward, at: Self.phi)
    #expect(SolverChecks.relativeError(forward.gradient, reverse.gradient) <= 1e-10)
  }
}
