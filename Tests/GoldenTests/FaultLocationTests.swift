import Foundation
import TestSupport
import Testing

/// A run-time fault, as a user sees it from the built driver: the quoted
/// expression is the one under the caret (or its derivative, or the data
/// that held the bad value), and `--json` keeps its position and kind.
@Suite struct FaultLocationTests {
  static func program(inner: String, variable: String = "w: vector[3] = [1, 2, 3]") -> String {
    """
    outer c: scalar = 1
    inner \(variable)
    inner loss = \(inner)
    outer loss = c^2
    solve inner with gd(lr: 0.1, steps: 10)
    hypergradient with unroll(reverse)
    solve outer with gd(lr: 0.1, steps: 2)
    """
  }

  /// Runs `text` as `name.blv` (with extra files beside it) and returns the run and its JSON.
  static func run(
    _ name: String, _ text: String, files: [String: String] = [:], command: [String] = []
  ) throws -> (DriverRunner.Run, [String: Any]?) {
    // One directory per call: parameterised cases run in parallel.
    let dir = NSTemporaryDirectory() + "bilevelc-faults-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try text.write(toFile: dir + "/\(name).blv", atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    for (file, contents) in files {
      try contents.write(toFile: dir + "/" + file, atomically: true, encoding: .utf8)
    }
    let json = dir + "/out.json"
    let run = DriverRunner.run(command + ["--json", json, name + ".blv"], in: dir)
    let object =
      (try? Data(contentsOf: URL(fileURLWithPath: json))).flatMap {
        try? JSONSerialization.jsonObject(with: $0) as? [String: Any]
      }
    return (run, object)
  }

  /// The caret's line and the text of the error line.
  static func error(in run: DriverRunner.Run) -> String? {
    run.errors.split(separator: "\n").first { $0.contains(": error: ") }.map(String.init)
  }

  @Test(arguments: [
    ("w: vector[3] = [1, 2, 3]", "sum((w - 1)^2) + exp(c * 1000) * sum(w^2)", "exp(c * 1000)"),
    ("W: matrix[2, 2] = 0", "sum((W - 1)^2) + sum(log(W - c))", "log(W - c)"),
    ("w: scalar = 0", "(w - 1)^2 + exp(c) * 1e308 * w^2", "exp(c) * 1e308"),
  ])
  func theQuotedExpressionIsTheOneUnderTheCaret(
    _ v: String, _ inner: String, _ bad: String
  )
    throws
  {
    let (run, json) = try Self.run("caret", Self.program(inner: inner, variable: v))
    #expect(run.status == 1)
    let line = try #require(Self.error(in: run), "\(run.errors)")
    let column = inner.distance(from: inner.startIndex, to: inner.range(of: bad)!.lowerBound) + 14
    #expect(line.hasPrefix("caret.blv:3:\(column): error: "), "\(line)")
    #expect(line.contains(": \(bad) gives "), "\(line)")
    let fault = try #require(json?["fault"] as? [String: Any], "\(json ?? [:])")
    #expect(fault["line"] as? Int == 3 && fault["column"] as? Int == column, "\(fault)")
  }

  @Test func aDerivativeThatOverflowsIsNamedAsTheDerivative() throws {
    let (run, _) = try Self.run(
      "derivative",
      Self.program(inner: "sum((w - c)^2) + sum(w^0.5)", variable: "w: vector[3] = [0, 1, 2]"))
    let line = try #require(Self.error(in: run), "\(run.errors)")
    #expect(line.hasPrefix("derivative.blv:3:35: error: "), "\(line)")
    #expect(line.contains("the derivative of w^0.5 with respect to w gives inf"), "\(line)")
  }

  @Test func notANumberInDataBlamesTheData() throws {
    let text = """
      dim n = 3, d = 2
      data X = csv("d.csv")
      outer lam: scalar = 0.1
      inner w: vector[d] = 0
      inner loss = mean((X @ w - 1)^2) + lam * sum(w^2)
      outer loss = mean((X @ w)^2)
      solve inner with gd(lr: 0.05, steps: 5)
      hypergradient with unroll
      solve outer with gd(lr: 0.1, steps: 2)
      """
    let (run, _) = try Self.run("nan_data", text, files: ["d.csv": "1,2\nnan,3\n4,5\n"])
    #expect(run.status == 1)
    let line = try #require(Self.error(in: run), "\(run.errors)")
    #expect(line.hasPrefix("nan_data.blv:2:6: error: "), "\(line)")
    #expect(line.contains("data 'X' = csv(\"d.csv\") holds nan at row 2, column 1"), "\(line)")
  }

  static func twoLevel(_ inner: String, solver: String, method: String) -> String {
    """
    outer c: scalar = 1
    inner w: vector[3] = [1, 2, 3]
    inner loss = \(inner)
    outer loss = sum(w^2) + c^2
    solve inner with \(solver)
    hypergradient with \(method)
    solve outer with gd(lr: 0.1, steps: 2)
    """
  }

  /// A maximiser is not a minimum: closed_form and implicit(exact) refuse it
  /// at the inner loss, naming the method that ran, with a kind in the JSON.
  @Test(arguments: ["closed_form", "implicit(exact)"])
  func aMaximiserIsRefusedNotSolved(_ method: String) throws {
    let (run, json) = try Self.run(
      "maximum", Self.twoLevel("-sum((w - c)^2)", solver: "newton", method: method))
    #expect(run.status == 1, "\(run.output)")
    #expect(!run.output.contains("solved:"), "\(run.output)")
    let line = try #require(Self.error(in: run), "\(run.errors)")
    #expect(
      line.hasPrefix(
        "maximum.blv:3:14: error: \(method): the inner Hessian is not positive definite"),
      "\(line)")
    let fault = try #require(json?["fault"] as? [String: Any])
    #expect(fault["kind"] as? String == "not_a_minimum" && fault["line"] as? Int == 3, "\(fault)")
  }

  @Test(arguments: ["closed_form", "implicit(exact)"])
  func aSingularHessianIsLocatedAndNamesTheMethodUsed(_ method: String) throws {
    let (run, json) = try Self.run(
      "singular", Self.twoLevel("c * sum(w)^2", solver: "gd(lr: 0.1, steps: 5)", method: method))
    let line = try #require(Self.error(in: run), "\(run.errors)")
    #expect(
      line.hasPrefix("singular.blv:3:14: error: \(method): the inner Hessian is singular"),
      "\(line)")
    let fault = try #require(json?["fault"] as? [String: Any])
    #expect(fault["kind"] as? String == "singular_system" && fault["column"] as? Int == 14)
  }

  /// A setting that makes the run fail is blamed on its own text.
  @Test(arguments: [
    (
      "sum((w - c)^2)", "gd(lr: 0.1, steps: 5)", "implicit(neumann, iters: 2000, alpha: 5)",
      "alpha: 5", "diverged"
    ),
    (
      "sum((w - c)^2) + exp(c * 700) * sum(w)", "gd(lr: 1e-300, steps: 1)",
      "finite_difference(eps: 1e300)", "eps: 1e300", "non_finite"
    ),
  ])
  func aSettingThatCausesTheFaultIsBlamed(
    _ inner: String, _ solver: String, _ method: String, _ setting: String, _ kind: String
  ) throws {
    let (run, json) = try Self.run("setting", Self.twoLevel(inner, solver: solver, method: method))
    let line = try #require(Self.error(in: run), "\(run.errors)")
    let column =
      "hypergradient with \(method)".range(of: setting)!.lowerBound.utf16Offset(
        in: "hypergradient with \(method)") + 1
    #expect(line.hasPrefix("setting.blv:6:\(column): error: "), "\(line)")
    let fault = try #require(json?["fault"] as? [String: Any])
    #expect(fault["kind"] as? String == kind && fault["line"] as? Int == 6, "\(fault)")
  }

  /// A fixpoint stopped by max_steps above its tolerance is "not converged".
  @Test func aFixpointCutShortIsNotConverged() throws {
    let text = try String(
      contentsOfFile: PackagePaths.samples + "/deq_fixpoint.blv", encoding: .utf8
    )
    .replacingOccurrences(of: "max_steps: 200", with: "max_steps: 3")
    .replacingOccurrences(of: "steps: 100)", with: "steps: 1)")
    let (run, json) = try Self.run("fixpoint_short", text)
    #expect(run.status == 0, "\(run.errors)")
    #expect(
      run.output.contains("not converged") && !run.output.contains("solved:"), "\(run.output)")
    #expect(json?["converged"] as? Bool == false)
    let warnings = try #require(json?["warnings"] as? [String])
    #expect(
      warnings.contains { $0.hasPrefix("not converged: fixpoint stopped at max_steps = 3") },
      "\(warnings)")
  }

  /// A setting that is an expression of outer variables is range-checked
  /// where it is evaluated: a located fault at its text, with the outer step.
  @Test(arguments: [
    ("gd(lr: c - 1, steps: 2)", "lr: c - 1", "'lr' evaluates to 0", 0),
    ("momentum(lr: 0.1, steps: 2, momentum: c)", "momentum: c", "'momentum' evaluates to 1", 0),
    ("flow(horizon: c - 1, steps: 2)", "horizon: c - 1", "'horizon' evaluates to 0", 0),
    ("gd(lr: 0.1 * c, steps: 20)", "lr: 0.1 * c", "'lr' evaluates to -0.0454583", 2),
  ])
  func anExpressionSettingOutOfRangeIsALocatedFault(
    _ solver: String, _ setting: String, _ what: String, _ outerStep: Int
  ) throws {
    let text = Self.twoLevel("sum((w - c)^2)", solver: solver, method: "implicit(exact)")
    let (run, json) = try Self.run("expression_setting", text)
    #expect(run.status == 1)
    let line = try #require(Self.error(in: run), "\(run.errors)")
    let column =
      "solve inner with \(solver)".range(of: setting)!.lowerBound.utf16Offset(
        in: "solve inner with \(solver)") + 1
    #expect(line.hasPrefix("expression_setting.blv:5:\(column): error: "), "\(line)")
    #expect(line.contains(what), "\(line)")
    let fault = try #require(json?["fault"] as? [String: Any])
    #expect(fault["kind"] as? String == "setting_out_of_range", "\(fault)")
    #expect(fault["outer_step"] as? Int == outerStep, "\(fault)")
  }

  /// The optimizer's own arithmetic (Adam's moments, the velocity) is
  /// blamed on the solver statement, never on an internal leaf.
  @Test(arguments: ["adam(lr: 1e-3, steps: 3)", "momentum(lr: 1e200, steps: 3)"])
  func anOptimizerFaultNamesTheSolverNotAnInternalLeaf(_ solver: String) throws {
    let text = Self.twoLevel("1e307 * sum((w - c)^2)", solver: solver, method: "unroll")
    let (run, json) = try Self.run("optimizer", text)
    let line = try #require(Self.error(in: run), "\(run.errors)")
    #expect(line.hasPrefix("optimizer.blv:"), "\(line)")
    #expect(!line.contains("u0") && !line.contains("v0") && !line.contains("velocity"), "\(line)")
    let fault = try #require(json?["fault"] as? [String: Any])
    #expect(fault["line"] is Int && fault["kind"] is String, "\(fault)")
  }

  /// closed_form's checks hold without a `solve inner` line: a quartic is
  /// refused at compile time, a maximiser at run time, neither "solved".
  @Test(arguments: [
    (
      "sum(w^4) + c * sum(w)", "no_solve.blv:3:18: error: closed_form needs an inner loss quadratic"
    ),
    ("-sum((w - c)^2)", "no_solve.blv:3:14: error: closed_form: the inner Hessian is not positive"),
  ])
  func closedFormIsCheckedWithoutASolveInnerLine(_ inner: String, _ expected: String) throws {
    let text = Self.twoLevel(inner, solver: "-", method: "closed_form").split(separator: "\n")
      .filter { !$0.hasPrefix("solve inner") }.joined(separator: "\n")
    let (run, _) = try Self.run("no_solve", text)
    #expect(run.status == 1, "\(run.output)")
    #expect(!run.output.contains("solved:"))
    #expect(run.errors.contains(expected), "\(run.errors)")
  }

  /// An outer step that overflows φ points at the outer learning rate.
  @Test func anOuterStepThatOverflowsBlamesTheOuterLearningRate() throws {
    let text = Self.twoLevel("sum((w - c)^2)", solver: "gd(lr: 0.1, steps: 5)", method: "unroll")
      .replacingOccurrences(of: "gd(lr: 0.1, steps: 2)", with: "gd(lr: 1e308, steps: 3)")
    let (run, json) = try Self.run("outer_overflow", text)
    let line = try #require(Self.error(in: run), "\(run.errors)")
    #expect(line.hasPrefix("outer_overflow.blv:7:21: error: outer step 1: "), "\(line)")
    let fault = try #require(json?["fault"] as? [String: Any])
    #expect(fault["outer_step"] as? Int == 1 && fault["column"] as? Int == 21, "\(fault)")
  }
}
