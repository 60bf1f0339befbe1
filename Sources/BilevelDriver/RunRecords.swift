import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation

/// One outer step as the records keep it.
struct TraceRow {
  let step: Int
  let outerLoss: Double
  let gradientNorm: Double
  let innerResidual: Double
  let phi: [Double]
  /// The program's `report` values at this step, in statement order.
  let reports: [Double]
}

/// A run's results as files: `--json` (grammar/result.schema.json: keyed by
/// variable name, numeric shapes, row-major values), `--trace` (one CSV row
/// per outer step). Numbers are written with round-trip precision;
/// non-finite ones as JSON null / CSV nan.
enum RunRecords {
  static let schemaVersion = 1

  /// `{"shape": [m, n], "values": [...]}`, row-major.
  static func tensor(_ shape: [Int], _ values: [Double]) -> JSONValue {
    .object([("shape", .array(shape.map { .int($0) })), ("values", .doubles(values))])
  }

  static func dims(_ s: Shape) -> [Int] {
    s.isScalar ? [] : s.isVector ? [s.rows] : [s.rows, s.columns]
  }

  /// φ (or a gradient in φ's layout) keyed by outer variable.
  static func byOuterVariable(_ problem: BilevelProblem, _ flat: [Double]) -> JSONValue {
    .object(
      problem.outerBlocks.map { v, offset in
        (v.name, tensor(dims(v.shape), Array(flat[offset..<(offset + v.shape.count)])))
      })
  }

  /// The solved θ keyed by inner variable; with tasks, a leading task axis.
  static func innerValues(
    _ problem: BilevelProblem, _ theta: [[Double]]
  ) -> [(name: String, shape: [Int], values: [Double])] {
    var offset = 0
    return problem.innerVariables.map { v in
      defer { offset += v.shape.count }
      let values = theta.flatMap { Array($0[offset..<(offset + v.shape.count)]) }
      let shape = problem.source.tasks == nil ? dims(v.shape) : [theta.count] + dims(v.shape)
      return (v.name, shape, values)
    }
  }

  /// "A[2,3]", "w[4]" or "lambda": the entry at a flat row-major position, 1-based.
  static func entryName(_ v: Variable, _ k: Int) -> String {
    if v.shape.isScalar { return v.name }
    if v.shape.isVector { return "\(v.name)[\(k + 1)]" }
    return "\(v.name)[\(k / v.shape.columns + 1),\(k % v.shape.columns + 1)]"
  }

  static func fault(_ f: SolverFault?, step: Int?) -> JSONValue {
    guard let f else { return .null }
    var fields: [(String, JSONValue)] = [
      ("message", .string(f.message)), ("kind", .string(f.kind.name)),
      ("outer_step", step.map { .int($0) } ?? .null),
    ]
    if let r = f.origin {
      let (line, column) = r.file.lineAndColumn(of: r.start)
      fields += [("file", .string(r.file.path)), ("line", .int(line)), ("column", .int(column))]
    }
    return .object(fields)
  }

  static func residuals(
    _ problem: BilevelProblem, _ f: HypergradientResult
  ) -> [(String, JSONValue)] {
    var fields: [(String, JSONValue)] = [
      ("hypergradient", byOuterVariable(problem, f.gradient)),
      ("hypergradient_norm", .double(f.gradientNorm)),
      ("inner_residual", problem.source.isSingleLevel ? .null : .double(f.innerResidual)),
      ("inner_steps", .int(f.innerSteps)),
    ]
    if let s = f.linearSolve {
      let curvature: JSONValue =
        s.nonPositiveCurvature.map {
          .object([("iteration", .int($0.iteration)), ("curvature", .double($0.curvature))])
        } ?? .null
      fields.append(
        (
          "linear_solve",
          .object([
            ("method", .string(s.method)), ("iterations", .int(s.iterations)),
            ("residual", .double(s.residual)),
            ("relative_residual", .double(s.relativeResidual)),
            ("non_positive_curvature", curvature),
          ])
        ))
    } else {
      fields.append(("linear_solve", .null))
    }
    if let fit = f.proxy { fields.append(("proxy_fit", ProxyFitText.json(fit))) }
    return fields
  }

  static func methodName(_ problem: BilevelProblem, _ method: HypergradientMethod) -> JSONValue {
    problem.source.isSingleLevel ? .null : .string(method.description)
  }

  struct RunInputs {
    let title: String
    let method: HypergradientMethod
    let trace: [TraceRow]
    let reportNames: [String]
    let traceValues: Bool
    let seconds: Double
    let peakBytes: Int
    /// SIGINT or SIGTERM stopped the run after its last complete outer step.
    var interrupted = false
  }

  static func json(
    _ problem: BilevelProblem, _ report: BilevelRun.Report, _ inputs: RunInputs
  ) -> String {
    let p = problem.source
    var fields: [(String, JSONValue)] = [
      ("schema_version", .int(schemaVersion)),
      ("command", .string("solve")),
      ("program", .string(inputs.title)),
      ("method", methodName(problem, inputs.method)),
      ("outer_solver", .string(p.outerSolver?.name ?? "none")),
      ("first_outer_step", .int(report.firstStep)),
      ("outer_steps", .int(report.stepsDone)),
      ("interrupted", .bool(inputs.interrupted)),
      ("initial_outer_loss", .optional(report.initialLoss)),
      ("final_outer_loss", .optional(report.final?.outerLoss)),
      ("outer_variables", byOuterVariable(problem, report.phi)),
      (
        "inner_variables",
        report.final.map { f in
          .object(innerValues(problem, f.theta).map { ($0.name, tensor($0.shape, $0.values)) })
        } ?? .null
      ),
    ]
    if let f = report.final { fields += residuals(problem, f) }
    let first = inputs.trace.first, last = inputs.trace.last
    fields.append(
      (
        "reports",
        .object(
          inputs.reportNames.enumerated().map { i, name in
            (
              name,
              .object([
                ("initial", .optional(first?.reports[i])), ("final", .optional(last?.reports[i])),
              ])
            )
          })
      ))
    fields.append(
      (
        "trace",
        .array(
          inputs.trace.map {
            traceObject($0, problem, inputs.reportNames, values: inputs.traceValues)
          })
      ))
    fields.append(("resume", resumeState(problem, report)))
    fields.append(("fault", fault(report.fault, step: report.faultStep)))
    let warnings =
      report.final.map { ResultWarnings.warnings(problem, method: inputs.method, result: $0) } ?? []
    fields.append(
      (
        "converged",
        .bool(
          !(report.final.map { InnerSolver(problem).stoppedAboveTolerance($0.innerResidual) }
            ?? false))
      ))
    fields.append(("warnings", .array(warnings.map { .string($0) })))
    fields.append(("wall_time_seconds", .double(inputs.seconds)))
    fields.append(("peak_memory_bytes", .int(inputs.peakBytes)))
    return JSONValue.object(fields).rendered() + "\n"
  }

  static func traceObject(
    _ row: TraceRow, _ problem: BilevelProblem, _ reportNames: [String], values: Bool
  ) -> JSONValue {
    var fields: [(String, JSONValue)] = [
      ("step", .int(row.step)), ("outer_loss", .double(row.outerLoss)),
      ("hypergradient_norm", .double(row.gradientNorm)),
      ("inner_residual", .double(row.innerResidual)),
      (
        "norms",
        .object(
          problem.outerBlocks.map { v, o in
            (v.name, .double(norm(Array(row.phi[o..<(o + v.shape.count)]))))
          })
      ),
      ("reports", .object(zip(reportNames, row.reports).map { ($0, .double($1)) })),
    ]
    if values {
      fields.append(
        (
          "values",
          .object(
            problem.outerBlocks.flatMap { v, o in
              (0..<v.shape.count).map { k in (entryName(v, k), JSONValue.double(row.phi[o + k])) }
            })
        ))
    }
    return .object(fields)
  }

  /// What `--resume` reads: the step, the optimiser's state, the box and a
  /// warm start's carried inner state.
  static func resumeState(_ problem: BilevelProblem, _ report: BilevelRun.Report) -> JSONValue {
    guard report.fault == nil else { return .null }
    let box: JSONValue =
      problem.outerBounds().map { b in
        .object([("lower", .doubles(b.lower)), ("upper", .doubles(b.upper))])
      } ?? .null
    var fields: [(String, JSONValue)] = [
      ("step", .int(report.stepsDone)),
      (
        "optimizer",
        .object([
          ("name", .string(problem.source.outerSolver?.name ?? "none")),
          ("count", .int(report.optimizer.count)),
          ("first_moment", .doubles(report.optimizer.first)),
          ("second_moment", .doubles(report.optimizer.second)),
        ])
      ),
      ("box", box),
    ]
    if let c = report.inner {
      fields.append(
        (
          "inner",
          .object(
            [
              ("steps_taken", .int(c.stepsTaken)),
              ("states", .array(c.states.map { .doubles($0) })),
            ] + (c.taskSteps.map { [("task_steps_taken", .array($0.map { .int($0) }))] } ?? []))
        ))
    }
    return .object(fields)
  }

  /// `bilevelc grad --json`: one evaluation, per variable and per task.
  static func gradJSON(
    _ problem: BilevelProblem, _ result: HypergradientResult?, fault f: SolverFault?,
    method: HypergradientMethod,
    title: String
  ) -> String {
    var fields: [(String, JSONValue)] = [
      ("schema_version", .int(schemaVersion)),
      ("command", .string("grad")),
      ("program", .string(title)),
      ("method", methodName(problem, method)),
      ("outer_loss", .optional(result?.outerLoss)),
    ]
    if let result {
      fields += residuals(problem, result)
      let parts = result.throughEachTask
      fields.append(
        (
          "explicit_gradient",
          parts.count > 1 ? byOuterVariable(problem, result.explicitGradient) : .null
        ))
      fields.append(
        ("tasks", .array(parts.count > 1 ? parts.map { byOuterVariable(problem, $0) } : [])))
    }
    fields.append(("fault", fault(f, step: f == nil ? nil : 0)))
    return JSONValue.object(fields).rendered() + "\n"
  }

  /// step, outer_loss, hypergradient_norm, inner_residual, each outer
  /// variable's norm, the reports; with `values`, every φ entry.
  static func trace(
    _ rows: [TraceRow], _ problem: BilevelProblem, reportNames: [String], values: Bool
  ) -> String {
    rows.reduce(traceHeader(problem, reportNames: reportNames, values: values)) {
      $0 + traceLine($1, problem, values: values)
    }
  }

  static func traceHeader(_ problem: BilevelProblem, reportNames: [String], values: Bool) -> String
  {
    var header = ["step", "outer_loss", "hypergradient_norm", "inner_residual"]
    header += problem.outerBlocks.map { "norm_\($0.variable.name)" }
    header += reportNames
    if values {
      header += problem.outerBlocks.flatMap { v, _ in
        (0..<v.shape.count).map { csvField(entryName(v, $0)) }
      }
    }
    return header.joined(separator: ",") + "\n"
  }

  /// One outer step's row, as `--trace` streams it.
  static func traceLine(_ r: TraceRow, _ problem: BilevelProblem, values: Bool) -> String {
    func cell(_ x: Double) -> String { x.isFinite ? "\(x)" : "nan" }
    var cells = [String(r.step), cell(r.outerLoss), cell(r.gradientNorm), cell(r.innerResidual)]
    cells += problem.outerBlocks.map { v, o in cell(norm(Array(r.phi[o..<(o + v.shape.count)]))) }
    cells += r.reports.map(cell)
    if values { cells += r.phi.map(cell) }
    return cells.joined(separator: ",") + "\n"
  }

  /// `A[2,3]` holds a comma: quoted as CSV requires.
  static func csvField(_ s: String) -> String { s.contains(",") ? "\"\(s)\"" : s }
}
