import BilevelCore
import BilevelFrontEnd
import BilevelSolvers

/// Compiling .blv text for the solver tests, and the plain-Swift numerics
/// (central differences, dense solves) their independent references use.
public enum SolverFixtures {
  public struct CompileError: Error, CustomStringConvertible {
    public let description: String
  }

  /// Parse, elaborate and simplify, as the driver does; warnings are allowed, errors throw.
  public static func program(_ text: String, path: String = "solver-test.blv") throws -> Program {
    let (source, syntax) = Parser.parse(SourceFile(path: path, text: text))
    guard syntax.isEmpty else {
      throw CompileError(description: "syntax: \(syntax.map(\.message))")
    }
    let (program, diagnostics) = MethodDiagnostics.elaborate(source, options: CompileOptions())
    let errors = diagnostics.filter { $0.severity == .error }
    guard let program, errors.isEmpty else {
      throw CompileError(description: "\(errors.map(\.message))")
    }
    return program.simplified().program
  }

  public static func problem(
    _ text: String, path: String = "solver-test.blv"
  ) throws -> BilevelProblem {
    BilevelProblem(try program(text, path: path))
  }

  /// A vector as a .blv literal with round-trip digits.
  public static func literal(_ v: [Double]) -> String {
    "[" + v.map { "\($0)" }.joined(separator: ", ") + "]"
  }

  /// A row-major matrix as a .blv literal.
  public static func literal(rows: [[Double]]) -> String {
    "[" + rows.map(literal).joined(separator: ", ") + "]"
  }
}

/// Plain-Swift linear algebra on row-major [[Double]], for hand-derived references.
public enum PlainAlgebra {
  public static func transpose(_ a: [[Double]]) -> [[Double]] { Dense.transpose(a) }

  public static func multiply(_ a: [[Double]], _ v: [Double]) -> [Double] {
    a.map { Dense.dot($0, v) }
  }

  public static func multiply(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
    let bt = transpose(b)
    return a.map { row in bt.map { Dense.dot(row, $0) } }
  }

  public static func identity(_ n: Int) -> [[Double]] { (0..<n).map { Dense.unit($0, n) } }

  public static func add(_ a: [[Double]], _ b: [[Double]], scale: Double = 1) -> [[Double]] {
    zip(a, b).map { zip($0, $1).map { $0 + scale * $1 } }
  }

  /// x with A x = b by Gaussian elimination with partial pivoting.
  public static func solve(_ a: [[Double]], _ b: [Double]) -> [Double] {
    let n = b.count
    var m = a
    var x = b
    for col in 0..<n {
      let pivot = (col..<n).max { abs(m[$0][col]) < abs(m[$1][col]) }!
      m.swapAt(col, pivot)
      x.swapAt(col, pivot)
      for r in (col + 1)..<n where m[r][col] != 0 {
        let f = m[r][col] / m[col][col]
        for c in col..<n { m[r][c] -= f * m[col][c] }
        x[r] -= f * x[col]
      }
    }
    for r in stride(from: n - 1, through: 0, by: -1) {
      var s = x[r]
      for c in (r + 1)..<n { s -= m[r][c] * x[c] }
      x[r] = s / m[r][r]
    }
    return x
  }
}

public enum SolverChecks {
  /// max |a − b| over max(‖a‖∞, ‖b‖∞): the relative error the tests bound.
  public static func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count, (a + b).allSatisfy(\.isFinite) else { return .infinity }
    let scale = max(Dense.maxAbs(a), Dense.maxAbs(b))
    let difference = zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    return scale == 0 ? difference : difference / scale
  }

  /// ∂f/∂x_i by Richardson-extrapolated central differences, (4 D(h/2) − D(h)) / 3,
  /// whose error is O(h⁴). h = 1e-4·max(1, |x_i|): rounding adds ~1e-16·|f|/h, and
  /// Adam's unrolled map has large fifth derivatives (at 1e-3 its error is ~1e-6).
  public static func centralDifferences(
    _ f: ([Double]) throws -> Double, at x: [Double], step: Double = 1e-4
  ) throws -> [Double] {
    var g: [Double] = []
    for i in x.indices {
      func central(_ h: Double) throws -> Double {
        var plus = x, minus = x
        plus[i] += h
        minus[i] -= h
        return (try f(plus) - f(minus)) / (plus[i] - minus[i])
      }
      let h = step * max(1, abs(x[i]))
      g.append((4 * (try central(h / 2)) - (try central(h))) / 3)
    }
    return g
  }

  /// Every task's θ (the first d entries of each final state) after the fixed-step
  /// inner solver, run by the test's own loop over FixedStepRunner.
  public static func unrolledTheta(_ problem: BilevelProblem, _ phi: [Double]) throws -> [[Double]]
  {
    let steps = InnerSolver(problem).fixedSteps ?? 0
    return try (0..<problem.tasks).map { t in
      var runner = FixedStepRunner(problem, task: t, steps: steps)
      return Array(try runner.run(phi).prefix(problem.innerSize))
    }
  }

  /// L_out at (θ of every task, φ).
  public static func outerLoss(
    _ problem: BilevelProblem, _ theta: [[Double]], _ phi: [Double]
  ) -> Double {
    problem.outerLoss([.allTheta: theta.flatMap { $0 }, .phi: phi])[.loss][0]
  }
}
