import BilevelCore
import BilevelFrontEnd
import TestSupport
import Testing

@testable import BilevelSolvers

/// N-way K-shot episodes drawn from a pool per outer step: their structure,
/// determinism (same seed, same tasks, same bits on 1 and 2 threads) and
/// the unrolled methods' agreement on them.
@Suite struct EpisodeTests {
  static func program(pool: Int = 20, seed: Int = 4) -> String {
    """
    tasks t in 1..3
    dim n = 16, p = 3
    data y = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
    data X = randn(n, p, seed: 21) + outer(y, ones(p))
    episodes s[t], q[t] = classes(y, ways: 2, shots: 1, queries: 2, pool: \(pool), seed: \(seed))
    outer W0: matrix[p, 2] = 0.1 * randn(p, 2, seed: 22)
    inner W[t]: matrix[p, 2] = W0
    inner loss[t] = mean(cross_entropy(X[s[t], :] @ W[t], y[s[t]], base: 0)) + 0.1 * sum(W[t]^2)
    outer loss = mean over t: mean(cross_entropy(X[q[t], :] @ W[t], y[q[t]], base: 0))
    solve inner with adam(lr: 0.1, steps: 4)
    hypergradient with unroll(reverse)
    solve outer with adam(lr: 0.05, steps: 5)
    """
  }

  @Test func episodesHaveDistinctClassesAndDisjointSupportAndQuery() throws {
    let program = try SolverFixtures.program(Self.program())
    let e = program.episodes[0]
    let labels = program.data[0].values[0].scalars
    #expect(e.relabelled(query: false) == [0, 1] && e.relabelled(query: true) == [0, 0, 1, 1])
    for outer in 0..<10 {
      let tasks = e.poolTasks(outer: outer, slots: 3)
      #expect(Set(tasks).count == 3 && tasks.allSatisfy { (0..<20).contains($0) })
      for task in tasks {
        let support = e.rows(task: task, query: false)
        let query = e.rows(task: task, query: true)
        #expect(Set(support).isDisjoint(with: query))
        // Class-major: way w's rows share one class, and the ways' classes differ.
        let supportClasses = support.map { labels[$0] }
        #expect(Set(supportClasses).count == 2)
        for (i, r) in query.enumerated() { #expect(labels[r] == supportClasses[i / 2]) }
      }
    }
    #expect(e.poolTasks(outer: 3, slots: 3) == e.poolTasks(outer: 3, slots: 3))
    #expect(Set((0..<10).map { e.poolTasks(outer: $0, slots: 3) }).count > 1)
  }

  /// The run from one seed: same tasks, same bits, on 1 and 2 threads.
  @Test func sameSeedGivesTheSameTasksAndBitsOnOneAndTwoThreads() throws {
    var finals: [[Double]] = []
    for threads in [1, 2, 1] {
      let problem = try SolverFixtures.problem(Self.program())
      problem.threads = threads
      let report = BilevelRun(problem: problem, method: .unrollReverse(checkpoints: nil)).run()
      #expect(report.fault == nil)
      finals.append(report.phi + (report.final?.gradient ?? []))
    }
    #expect(finals[0] == finals[1] && finals[1] == finals[2])
    // Another seed draws other tasks, so another run.
    let other = try SolverFixtures.problem(Self.program(seed: 5))
    let report = BilevelRun(problem: other, method: .unrollReverse(checkpoints: nil)).run()
    #expect(report.phi != Array(finals[0].prefix(report.phi.count)))
  }

  @Test func unrolledMethodsAgreeAndMatchDifferencesOnEpisodes() throws {
    let problem = try SolverFixtures.problem(Self.program())
    let phi = problem.initialOuter()
    for outerStep in [0, 2] {
      let reverse = try problem.hypergradient(
        .unrollReverse(checkpoints: nil), at: phi, outerStep: outerStep)
      for method: HypergradientMethod in [.unrollForward, .unrollReverse(checkpoints: 2)] {
        let other = try problem.hypergradient(method, at: phi, outerStep: outerStep)
        #expect(SolverChecks.relativeError(other.gradient, reverse.gradient) <= 1e-10)
      }
      problem.outerStep = outerStep
      let reference = try SolverChecks.centralDifferences(
        { p in SolverChecks.outerLoss(problem, try SolverChecks.unrolledTheta(problem, p), p) },
        at: phi)
      #expect(SolverChecks.relativeError(reverse.gradient, reference) <= 1e-6)
    }
  }

  /// Nothing is kept per pool task: a pool of 100 and one of 100,000 compile
  /// to the same data, inputs and plans.
  @Test func thePoolSizeChangesNoStoredValue() throws {
    let small = try SolverFixtures.problem(Self.program(pool: 100))
    let large = try SolverFixtures.problem(Self.program(pool: 100_000))
    #expect(small.program.data.map(\.values) == large.program.data.map(\.values))
    #expect(small.program.inputs.count == large.program.inputs.count)
    #expect(
      small.step(0).plan.parameters.map(\.offset) == large.step(0).plan.parameters.map(\.offset))
  }
}
