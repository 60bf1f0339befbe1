import BilevelCore
import BilevelFrontEnd

/// One method's per-task check in a program with tasks: each task's part of
/// the hypergradient against central differences of its per-task map
///   F_t(φ) = L_out(θ_1(φ₀), …, θ_t(φ), …, θ_M(φ₀), φ),
/// the method's map with every other task's θ held at its value at φ₀. Its
/// gradient is ∂L_out/∂φ plus task t's path through its inner solve
/// (HypergradientResult.taskGradient); the whole gradient is the sum over
/// tasks less (M − 1)·∂L_out/∂φ. Valid for any outer loss, not only a sum
/// or mean over tasks.
public struct TaskCheck: Sendable {
  public let method: HypergradientMethod
  public let isProgramMethod: Bool
  /// Per task: ‖g_t·U − differences of F_t‖ / ‖differences‖ over the
  /// directions of the aggregate check (empty when the differences failed).
  public internal(set) var errors: [Double] = []
  /// The tolerance the errors are judged by (the aggregate row's).
  public internal(set) var tolerance: Double = 0
  /// Tasks (0-based) out of tolerance.
  public internal(set) var failedTasks: [Int] = []
  /// What was out of tolerance (or failed); nil when every task passes.
  public internal(set) var failure: String?

  public var label: String { method.description }
}

extension HypergradientCheck {
  /// The methods checked per task, at most three: the program's, then the
  /// unrolled and the implicit references, where they have a gradient here.
  func taskCheckedSpecs(_ rows: [CheckRow], _ specs: [Spec]) -> [Int] {
    var chosen: [Int] = []
    let wanted: [(Spec) -> Bool] = [
      { $0.method == programMethod }, { $0.kind == .unrolledReference },
      { $0.kind == .implicitReference },
    ]
    for want in wanted {
      guard let i = specs.firstIndex(where: want), !chosen.contains(i),
        rows[i].notApplicable == nil, !rows[i].taskGradients.isEmpty
      else { continue }
      chosen.append(i)
    }
    return chosen
  }

  func checkTasks(
    _ rows: [CheckRow], _ specs: [Spec], maps: CheckedMapEvaluator, _ phi0: [Double],
    _ units: [[Double]]
  ) -> [TaskCheck] {
    let T = InnerSolver(problem).fixedSteps
    var differences: [CheckedMap: Result<[[Double]], SolverFault>] = [:]
    var checks: [TaskCheck] = []
    for i in taskCheckedSpecs(rows, specs) {
      let row = rows[i]
      var check = TaskCheck(method: row.method, isProgramMethod: row.isProgramMethod)
      check.tolerance = taskTolerance(specs[i].kind, row)
      let map = row.method.record.checkedMap(T)
      if differences[map] == nil {
        do {
          differences[map] = .success(try taskDifferences(map, maps: maps, phi0, units))
        } catch {
          differences[map] = .failure(error)
        }
      }
      switch differences[map]! {
      case .success(let fd):
        check.errors = (0..<problem.tasks).map { t in
          relativeError(units.map { dot(row.taskGradients[t], $0) }, fd[t])
        }
        check.failedTasks = check.errors.indices.filter { !(check.errors[$0] <= check.tolerance) }
        if !check.failedTasks.isEmpty {
          let worst = check.failedTasks.map { check.errors[$0] }.max()!
          let which = check.failedTasks.map { "\($0 + 1)" }.joined(separator: ", ")
          check.failure =
            "task\(check.failedTasks.count == 1 ? "" : "s") \(which) differ\(check.failedTasks.count == 1 ? "s" : "") from central differences of the per-task map, the worst by \(ErrorFigure.exceeding(worst)), over \(formatValue(check.tolerance))"
        }
      case .failure(let e):
        check.failure = "differences of the per-task maps failed: \(e.message)"
      }
      checks.append(check)
    }
    return checks
  }

  /// The aggregate row's tolerance for its kind.
  func taskTolerance(_ kind: Kind, _ row: CheckRow) -> Double {
    switch kind {
    case .finiteDifference: return Self.finiteDifferenceTolerance
    case .approximateImplicit:
      return max(Self.exactTolerance, 10 * (row.linearResidual ?? .infinity))
    default: return Self.exactTolerance
    }
  }

  /// [task][direction]: the 4-point Richardson differences of each F_t, as `centralDifferences` takes them.
  func taskDifferences(
    _ map: CheckedMap, maps: CheckedMapEvaluator, _ phi0: [Double], _ units: [[Double]]
  ) throws(SolverFault) -> [[Double]] {
    let h = Self.step
    let signs = [1.0, -1.0, 2.0, -2.0]
    let points = units.flatMap { u in
      signs.map { s in (0..<phi0.count).map { phi0[$0] + (s * h) * u[$0] } }
    }
    let values = try maps.taskValues(map, at: points)
    return values.map { f in
      units.indices.map { k in
        let b = 4 * k
        return (8 * (f[b] - f[b + 1]) - (f[b + 2] - f[b + 3])) / (12 * h)
      }
    }
  }
}
