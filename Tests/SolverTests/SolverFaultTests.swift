import BilevelFrontEnd
import BilevelSolvers
import Foundation
import TestSupport
import Testing

/// Numerical trouble stops a run with a SolverFault that says where: the
/// inner step, and the source expression of the first non-finite value.
@Suite struct SolverFaultTests {
  /// ∇ = 2(w − a) and lr = 5: each step multiplies w − a by −9.
  static let diverging = """
    outer a: scalar = 1
    inner w: vector[3] = [1.5, 2, 3]
    inner loss = sum((w - a)^2)
    outer loss = sum(w^2)
    solve inner with gd(lr: 5, steps: 50)
    hypergradient with unroll(reverse)
    solve outer with gd(lr: 0.1, steps: 3)
    """

  /// The step number in "inner step N of T".
  static func step(in message: String, of steps: Int) -> Int? {
    guard let r = message.range(of: #"inner step \d+ of \#(steps)"#, options: .regularExpression)
    else { return nil }
    return Int(message[r].split(separator: " ")[2])
  }

  @Test(arguments: [
    HypergradientMethod.unrollReverse(checkpoints: nil), .unrollReverse(checkpoints: 4),
    .unrollForward,
    .firstOrder, .implicitExact,
  ])
  func divergingInnerSolverNamesTheStep(_ method: HypergradientMethod) throws {
    let problem = try SolverFixtures.problem(Self.diverging)
    let phi = problem.initialOuter()
    var fault: SolverFault?
    do { _ = try problem.hypergradient(method, at: phi) } catch { fault = error }
    let message = try #require(fault?.message, "\(method.description) should fail")
    #expect(fault?.kind == .diverged || fault?.kind == .nonFinite, "\(message)")
    let n = try #require(Self.step(in: message, of: 50), "no 'inner step N of 50' in: \(message)")
    // The named step is the first that fails when the steps are replayed one by one.
    var runner = FixedStepRunner(problem, task: 0, steps: 50)
    var s = runner.start(phi)
    for k in 0..<(n - 1) { try runner.advance(&s, step: k) }
    #expect(throws: SolverFault.self) { try runner.advance(&s, step: n - 1) }
    #expect(n > 1 && n < 50, "\(message)")
  }

  @Test func bilevelRunKeepsTheFaultAndItsStep() throws {
    let problem = try SolverFixtures.problem(Self.diverging)
    let report = BilevelRun(problem: problem, method: .unrollReverse(checkpoints: nil)).run()
    let fault = try #require(report.fault)
    #expect(report.faultStep == 0)
    #expect(report.final == nil)
    #expect(Self.step(in: fault.message, of: 50) != nil, "\(fault.message)")
    #expect(report.phi == problem.initialOuter())
  }

  /// log(w − 2) at w₁ = 1 is NaN at the very first step.
  static let logOfNegative = """
    outer a: scalar = 1
    inner w: vector[3] = [1, 2.5, 3]
    inner loss = a * sum(w^2) + sum(exp(w) * log(w - 2))
    outer loss = sum(w^2)
    solve inner with gd(lr: 0.1, steps: 10)
    hypergradient with unroll(reverse)
    solve outer with gd(lr: 0.1, steps: 1)
    """

  @Test(arguments: [
    HypergradientMethod.unrollReverse(checkpoints: nil), .unrollForward, .truncated(steps: 2),
  ])
  func notANumberPointsAtTheLogInTheSource(_ method: HypergradientMethod) throws {
    let problem = try SolverFixtures.problem(Self.logOfNegative)
    var fault: SolverFault?
    do { _ = try problem.hypergradient(method, at: problem.initialOuter()) } catch { fault = error }
    let f = try #require(fault)
    #expect(f.kind == .nonFinite)
    #expect(Self.step(in: f.message, of: 10) == 1, "\(f.message)")
    let origin = try #require(f.origin, "no source range in: \(f.message)")
    let text = Self.logOfNegative
    let logOffset = text.utf8.count - text.utf8[text.range(of: "log(")!.lowerBound...].count
    #expect(origin.start == logOffset, "origin \(origin.location) '\(origin.text)'")
    #expect(origin.text.hasPrefix("log("), "'\(origin.text)'")
    #expect(origin.text == "log(w - 2)" || origin.text.hasPrefix("log(w - 2)"))
    #expect(origin.file.lineAndColumn(of: origin.start).line == 3)
    #expect(f.expression?.contains("log") == true, "\(f.expression ?? "nil")")
    #expect(f.message.contains("NaN") || f.message.lowercased().contains("nan"), "\(f.message)")
  }
}
