import BilevelCore
import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

@testable import BilevelSolvers

/// Plans shared by tasks of the same shapes (PlanSharing.swift): as many
/// plans for 100 tasks as for 5, and the same bits as plans built task by
/// task, on one thread and on two.
@Suite struct PlanSharingTests {
  /// M tasks with per-task data of every kind a plan binds: matrices, a
  /// per-task scalar and an all-equal vector (both would be immediates if
  /// baked in), and a data-only product per task (computed by the pool).
  static func text(tasks M: Int, solver: String = "adam(lr: exp(loglr), steps: 4)") -> String {
    """
    tasks t in 1..\(M)
    dim n = 6, d = 3
    data xs[t] = randn(n, d, seed: 80 + t)
    data ys[t] = randn(n, seed: 90 + t)
    data c[t] = 0.1 * t
    data u[t] = (1 + 0.5 * t) * ones(d)
    data G[t] = xs[t]' @ xs[t]
    outer loglr: scalar = -2
    outer w0: vector[d] = [0.1, -0.2, 0.3]
    inner w[t]: vector[d] = w0
    inner loss[t] = mean((xs[t] @ w[t] - ys[t])^2) + c[t] * sum(softplus(u[t] * w[t])) + 0.01 * (w[t] @ G[t] @ w[t])
    outer loss = mean over t: mean((xs[t] @ w[t] + c[t] - ys[t])^2) + 0.01 * sum(w0^2)
    solve inner with \(solver)
    hypergradient with unroll(reverse)
    solve outer with adam(lr: 0.05, steps: 4)
    """
  }

  static func problem(_ label: String, shared: Bool, threads: Int) throws -> BilevelProblem {
    let problem =
      label.hasPrefix("tasks/")
      ? try SolverFixtures.problem(text(tasks: Int(label.dropFirst(6))!))
      : try TaskParallelTests.sample(label)
    problem.constants.sharesPlans = shared
    problem.threads = threads
    return problem
  }

  @Test func theNumberOfPlansDoesNotGrowWithTheTasks() throws {
    var counts: [Int] = []
    var unshared: [Int] = []
    for M in [5, 100] {
      for shared in [true, false] {
        let problem = try Self.problem("tasks/\(M)", shared: shared, threads: 2)
        let r = try problem.hypergradient(
          .unrollReverse(checkpoints: nil), at: problem.initialOuter())
        #expect(r.gradient.allSatisfy { $0.isFinite })
        if shared {
          counts.append(problem.constants.distinctPlans)
        } else {
          unshared.append(problem.constants.distinctPlans)
        }
      }
    }
    #expect(counts[0] == counts[1], "\(counts)")
    // Built task by task, the count grows with M: what the first figure is measured against.
    #expect(unshared[1] > unshared[0] && unshared[0] > counts[0], "\(unshared) vs \(counts)")
  }

  @Test(arguments: ["tasks/7", "maml_sinusoid", "maml_digits_5way_1shot", "fomaml_first_order"])
  func sharedPlansGiveTheBitsOfPlansBuiltPerTask(_ label: String) throws {
    let reference = try Self.problem(label, shared: false, threads: 1)
    let phi = reference.initialOuter().enumerated().map {
      $0.element + 0.01 * Double($0.offset % 5 + 1)
    }
    let shared = [1, 2].map { try? Self.problem(label, shared: true, threads: $0) }
    for method in TaskParallelTests.methods(reference) {
      let want = Result { () throws(SolverFault) in try reference.hypergradient(method, at: phi) }
      for case let problem? in shared {
        let got = Result { () throws(SolverFault) in try problem.hypergradient(method, at: phi) }
        let what = "\(label), \(method.description), \(problem.threads) threads"
        switch (want, got) {
        case (.success(let x), .success(let y)):
          #expect(
            TaskParallelTests.bits(x.gradient) == TaskParallelTests.bits(y.gradient), "\(what)")
          #expect(x.outerLoss.bitPattern == y.outerLoss.bitPattern, "\(what)")
          #expect(
            x.theta.map(TaskParallelTests.bits) == y.theta.map(TaskParallelTests.bits), "\(what)")
        case (.failure(let x), .failure(let y)): #expect(x.message == y.message, "\(what)")
        default: Issue.record("\(what): built per task \(want), shared \(got)")
        }
      }
    }
    #expect(shared.allSatisfy { $0 != nil })
  }

  /// A task's plan is an instance of task 0's code with task t's constants
  /// (the per-task scalar and vector read through the constant table).
  @Test func tasksRunOneCodeWithTheirOwnConstants() throws {
    let problem = try Self.problem("tasks/7", shared: true, threads: 1)
    let first = problem.innerGradient(0).plan
    let other = problem.innerGradient(5).plan
    #expect(first.sharesCode(with: other))
    #expect(other.boundTask == 5)
    let unshared = try Self.problem("tasks/7", shared: false, threads: 1)
    #expect(!unshared.innerGradient(0).plan.sharesCode(with: unshared.innerGradient(5).plan))
  }
}
