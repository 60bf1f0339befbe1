import BilevelCore
import BilevelFrontEnd

/// [φ] → the step rule's settings that are expressions (lr, momentum,
/// horizon), every entry, in the order `SolverGraphs.stepSettings` lists them.
public enum StepSettingValues: FunctionSignature {
  public enum Argument: Int, CaseIterable { case phi }
  public enum Result: Int, CaseIterable { case values }
}

/// The range an expression setting must fall in once its value is known.
enum SettingRange {
  case positive
  case unitInterval  // 0 ≤ x < 1
  /// Any finite value: a per-entry learned rate (Meta-SGD) may take either sign.
  case finite

  func contains(_ x: Double) -> Bool {
    switch self {
    case .positive: return x > 0 && x.isFinite
    case .unitInterval: return x >= 0 && x < 1
    case .finite: return x.isFinite
    }
  }

  var text: String {
    switch self {
    case .positive: return "> 0"
    case .unitInterval: return "0 ≤ x < 1"
    case .finite: return "finite"
    }
  }
}

extension StepRule {
  /// The settings written as expressions, with the range each must meet: a
  /// scalar rate > 0, a per-entry one (Meta-SGD's learned α) only finite.
  func expressionSettings(_ graph: Graph) -> [(name: String, node: NodeID, range: SettingRange)] {
    func rate(_ lr: NodeID) -> (String, NodeID, SettingRange) {
      ("lr", lr, graph.shape(lr).isScalar ? .positive : .finite)
    }
    switch self {
    case .gd(let lr), .adam(let lr, _, _, _): return [rate(lr)]
    case .momentum(let lr, let m): return [rate(lr), ("momentum", m, .unitInterval)]
    case .flow(let horizon, _): return [("horizon", horizon, .positive)]
    case .rule: return []
    }
  }
}

extension BilevelProblem {
  public func stepSettingValues(_ t: Int) -> Compiled<StepSettingValues> {
    build(functions[t], \.stepSettingValues) {
      Compiled(
        program, constants: constants, task: planTask(t),
        arguments: {
          switch $0 {
          case .phi: phi
          }
        },
        results: {
          switch $0 {
          case .values: (stepRule?.expressionSettings(program.graph) ?? []).map(\.node)
          }
        })
    }
  }

  /// Settings that depend on outer variables are known only at φ: each entry
  /// is checked there, and one out of range is a fault at the setting's text.
  func checkStepSettings(_ phi: [Double], task t: Int) throws(SolverFault) {
    guard let settings = stepRule?.expressionSettings(program.graph), !settings.isEmpty,
      let statement = source.innerSolver
    else { return }
    // Constant settings were range-checked when the program compiled.
    let varying = settings.contains { program.graph.constantValue($0.node) == nil }
    guard varying else { return }
    let values = stepSettingValues(t)([.phi: phi])[.values]
    var offset = 0
    for s in settings {
      let count = program.graph.shape(s.node).count
      defer { offset += count }
      guard let k = (offset..<(offset + count)).first(where: { !s.range.contains(values[$0]) })
      else { continue }
      let entry = count > 1 ? " (entry \(k - offset + 1))" : ""
      throw SolverFault(
        .settingOutOfRange, at: "\(taskLabel(t))\(statement.name)",
        "setting '\(s.name)' evaluates to \(formatValue(values[k]))\(entry) at this outer point; it must be \(s.range.text)",
        origin: statement.settingRange(s.name) ?? statement.range)
    }
  }
}
