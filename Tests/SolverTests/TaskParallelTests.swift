import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

@testable import BilevelSolvers

/// Tasks run in parallel (TaskParallel) and their contributions are reduced
/// in task order, so every method gives the same bits on one thread and on
/// several; and `check` checks each task's part against its per-task map.
@Suite struct TaskParallelTests {
  struct Failure: Error, Equatable {
    let task: Int
  }

  @Test func mapKeepsTaskOrderAndRethrowsTheFirstFailure() throws {
    for threads in [1, 2, 4] {
      let squares = TaskParallel.map(100, threads: threads) { $0 * $0 }
      #expect(squares == (0..<100).map { $0 * $0 })
      #expect(throws: Failure(task: 37)) {
        _ = try TaskParallel.map(100, threads: threads) { (t: Int) throws(Failure) -> Int in
          if t == 37 || t == 70 { throw Failure(task: t) }
          return t
        }
      }
    }
    #expect(TaskParallel.map(0, threads: 2) { $0 }.isEmpty)
    #expect(TaskParallel.sum([[1, 2], [3, 4], [5, 6]]) == [9, 12])
  }

  // MARK: Programs

  static func sample(_ name: String) throws -> BilevelProblem {
    let path = PackagePaths.samples + "/\(name).blv"
    return try SolverFixtures.problem(try String(contentsOfFile: path, encoding: .utf8), path: path)
  }

  /// Seven tasks sharing (loglr, w0), each starting at w0 and taking `solver`'s steps.
  static func sevenTasks(_ solver: String) -> String {
    let rule =
      solver == "adam"
      ? "adam(lr: exp(loglr), steps: 8, beta1: 0.8, beta2: 0.9)"
      : "momentum(lr: exp(loglr), steps: 8, momentum: 0.7)"
    return """
      tasks t in 1..7
      dim n = 6, d = 3
      data xs[t] = randn(n, d, seed: 80 + t)
      data ys[t] = randn(n, seed: 90 + t)
      outer loglr: scalar = -2
      outer w0: vector[d] = [0.1, -0.2, 0.3]
      inner w[t]: vector[d] = w0
      inner loss[t] = mean((xs[t] @ w[t] - ys[t])^2) + 0.1 * sum(softplus(w[t]))
      outer loss = mean over t: mean((xs[t] @ w[t] + 0.5 - ys[t])^2) + 0.01 * sum(w0^2)
      solve inner with \(rule)
      hypergradient with unroll(reverse)
      solve outer with adam(lr: 0.05, steps: 4)
      """
  }

  static let cases = ["maml_sinusoid", "fomaml_first_order", "7 tasks/momentum", "7 tasks/adam"]

  static func problem(_ label: String) throws -> BilevelProblem {
    if label.hasPrefix("7 tasks/") {
      return try SolverFixtures.problem(sevenTasks(String(label.dropFirst(8))))
    }
    return try sample(label)
  }

  /// Every method `check` applies to the program, and the program's own.
  static func methods(_ problem: BilevelProblem) -> [HypergradientMethod] {
    let own = MethodSelection(problem).method
    var out = HypergradientCheck(problem: problem, programMethod: own).specs().specs.map(\.method)
    for extra: HypergradientMethod in [
      .unrollReverse(checkpoints: 3), .truncated(steps: 2),
      .implicitNeumann(iterations: 10, alpha: 0.5),
    ]
    where !out.contains(extra) {
      out.append(extra)
    }
    return out
  }

  static func bits(_ v: [Double]) -> [UInt64] { v.map(\.bitPattern) }

  // MARK: Bit-identical on 1 and 2 threads

  @Test(arguments: cases)
  func everyMethodIsBitIdenticalOnOneAndTwoThreads(_ label: String) throws {
    let one = try Self.problem(label)
    let two = try Self.problem(label)
    one.threads = 1
    two.threads = 2
    #expect(one.tasks > 1)
    let phi = one.initialOuter().enumerated().map { $0.element + 0.01 * Double($0.offset % 5 + 1) }
    for method in Self.methods(one) {
      let a: Result<HypergradientResult, SolverFault>
      let b: Result<HypergradientResult, SolverFault>
      do { a = .success(try one.hypergradient(method, at: phi)) } catch { a = .failure(error) }
      do { b = .success(try two.hypergradient(method, at: phi)) } catch { b = .failure(error) }
      switch (a, b) {
      case (.success(let x), .success(let y)):
        let what = "\(label), \(method.description)"
        #expect(
          Self.bits(x.gradient) == Self.bits(y.gradient), "\(what): \(x.gradient) vs \(y.gradient)")
        #expect(x.outerLoss.bitPattern == y.outerLoss.bitPattern, "\(what)")
        #expect(x.innerResidual.bitPattern == y.innerResidual.bitPattern, "\(what)")
        #expect(x.theta.map(Self.bits) == y.theta.map(Self.bits), "\(what)")
        #expect(
          x.linearSolve?.relativeResidual.bitPattern == y.linearSolve?.relativeResidual.bitPattern,
          "\(what)")
        #expect(
          (x.forwardSteps, x.peakStates, x.peakDoubles) == (
            y.forwardSteps, y.peakStates, y.peakDoubles
          ), "\(what)")
        for t in 0..<one.tasks {
          let (gx, gy) = (Self.bits(x.taskGradient(t)), Self.bits(y.taskGradient(t)))
          #expect(gx == gy, "\(what), task \(t + 1)")
        }
        let finite = x.gradient.allSatisfy { $0.isFinite }
        #expect(finite, "\(what)")
      case (.failure(let x), .failure(let y)):
        #expect(x.message == y.message, "\(label), \(method.description)")
      default:
        Issue.record("\(label), \(method.description): one thread gives \(a), two give \(b)")
      }
    }
  }

  /// Whole outer runs (every hypergradient feeding the next φ) end at the same bits.
  @Test(arguments: ["fomaml_first_order", "7 tasks/adam"])
  func outerRunsAreBitIdenticalOnOneAndTwoThreads(_ label: String) throws {
    let one = try Self.problem(label)
    let two = try Self.problem(label)
    one.threads = 1
    two.threads = 2
    let method = MethodSelection(one).method
    let a = BilevelRun(problem: one, method: method).run()
    let b = BilevelRun(problem: two, method: method).run()
    #expect(a.fault == nil && b.fault == nil)
    #expect(a.stepsDone == b.stepsDone && a.stepsDone > 0)
    #expect(Self.bits(a.phi) == Self.bits(b.phi))
    #expect(a.final?.outerLoss.bitPattern == b.final?.outerLoss.bitPattern)
  }

  /// The inner solves (the program's and the tight one) alone.
  @Test func theSolveAndTheInnerResidualsDoNotDependOnThreads() throws {
    let one = try Self.problem("7 tasks/momentum")
    let two = try Self.problem("7 tasks/momentum")
    one.threads = 1
    two.threads = 2
    let phi = one.initialOuter()
    let a = try InnerSolver(one).solve(phi)
    let b = try InnerSolver(two).solve(phi)
    #expect(a.theta.map(Self.bits) == b.theta.map(Self.bits))
    #expect(a.residual.bitPattern == b.residual.bitPattern)
    let tightA = try InnerSolver(one).solveTightly(phi)
    let tightB = try InnerSolver(two).solveTightly(phi)
    #expect(tightA.theta.map(Self.bits) == tightB.theta.map(Self.bits))
  }

  // MARK: Per-task parts

  /// Σ_t ∇F_t = ∇F + (M − 1) ∂L_out/∂φ, and each task's part agrees with
  /// differences of its own map (others held), for reverse and forward alike.
  @Test(arguments: ["7 tasks/adam", "maml_sinusoid"])
  func taskPartsSumToTheGradient(_ label: String) throws {
    let problem = try Self.problem(label)
    let phi = problem.initialOuter()
    let M = Double(problem.tasks)
    for method: HypergradientMethod in [
      .unrollReverse(checkpoints: nil), .unrollForward, .firstOrder,
    ] {
      let r = try problem.hypergradient(method, at: phi)
      var sum = [Double](repeating: 0, count: problem.outerSize)
      for t in 0..<problem.tasks { for j in sum.indices { sum[j] += r.taskGradient(t)[j] } }
      let recovered = sum.indices.map { sum[$0] - (M - 1) * r.explicitGradient[$0] }
      #expect(
        SolverChecks.relativeError(recovered, r.gradient) <= 1e-12,
        "\(label), \(method.description)")
    }
  }

  @Test(arguments: ["maml_sinusoid", "fomaml_first_order", "7 tasks/momentum"])
  func checkReportsEveryTaskWithinTolerance(_ label: String) throws {
    let problem = try Self.problem(label)
    let method = MethodSelection(problem).method
    let report = HypergradientCheck(problem: problem, programMethod: method).run()
    #expect(report.failures.isEmpty, "\(report.failures.map { "\($0.label): \($0.failure!)" })")
    #expect(!report.taskChecks.isEmpty && report.taskChecks.count <= 3)
    #expect(report.taskChecks.first?.method == method)
    #expect(report.taskChecks.contains { $0.method == .unrollReverse(checkpoints: nil) })
    for check in report.taskChecks {
      #expect(check.failure == nil, "\(label), \(check.label): \(check.failure ?? "")")
      #expect(check.errors.count == problem.tasks)
      #expect(check.errors.allSatisfy { $0 <= 1e-8 }, "\(label), \(check.label): \(check.errors)")
    }
  }

  /// A wrong per-task part shows in its task: task 2's path dropped from the
  /// reverse result no longer matches differences of F_2, the others still do.
  @Test func aWrongTaskPartIsCaughtInItsTask() throws {
    let problem = try Self.problem("7 tasks/momentum")
    let phi0 = HypergradientCheck(problem: problem, programMethod: .unrollReverse(checkpoints: nil))
      .initialPoint()
    let maps = CheckedMapEvaluator(problem: problem, phi0: phi0)
    let check = HypergradientCheck(
      problem: problem, programMethod: .unrollReverse(checkpoints: nil))
    let units = check.directions()
    let fd = try check.taskDifferences(.unrolled, maps: maps, phi0, units)
    let r = try problem.hypergradient(.unrollReverse(checkpoints: nil), at: phi0)
    for t in 0..<problem.tasks {
      let g = t == 1 ? r.explicitGradient : r.taskGradient(t)
      let error = check.relativeError(units.map { dot(g, $0) }, fd[t])
      if t == 1 { #expect(error > 1e-3) } else { #expect(error <= 1e-8) }
    }
  }
}
