import BilevelFrontEnd

/// The `--emit graph` text: declarations, then one line per node reached
/// from the program's roots, numbered densely in topological order, then
/// the losses and solver statements. Its grammar is in grammar/emit.ebnf.
extension Program {
  public func dump(
    title: String, nodesBefore: Int? = nil, fired: [(rule: String, count: Int)] = []
  ) -> String {
    let reached = graph.reachable(from: roots)
    var number: [Int: Int] = [:]
    for (k, id) in reached.enumerated() { number[id.index] = k }
    func ref(_ id: NodeID) -> String { "%\(number[id.index]!)" }
    var out = "# graph of \(title): \(reached.count) nodes"
    if let nodesBefore { out += " (\(nodesBefore) before rewriting)" }
    out += "\n"
    if !fired.isEmpty {
      out += "# rewrites: " + fired.map { "\($0.rule) ×\($0.count)" }.joined(separator: ", ") + "\n"
    }
    for (name, value) in dims { out += "dim \(name) = \(value)\n" }
    if let tasks { out += "tasks \(tasks.index) in 1..\(tasks.count)\n" }
    for d in data where !(d.perTask && d.name == tasks?.index) {
      let name = d.perTask ? "\(d.name)[\(tasks!.index)]" : d.name
      let first = d.values[0]
      let summary =
        "sum \(formatValue(first.scalars.reduce(0, +))), first \(formatValue(first.scalars[0]))"
      out +=
        "data \(name): \(d.shape) = \(d.definition)  # \(d.perTask ? "\(d.values.count) tasks; task 1: " : "")\(summary)\n"
    }
    for v in variables {
      let name = v.perTask ? "\(v.name)[\(tasks!.index)]" : v.name
      var line = "\(v.level.rawValue) \(name): \(v.shape) = \(ref(v.initial))"
      if let b = v.bounds { line += " in [\(ref(b.lower)), \(ref(b.upper))]" }
      out += line + "\n"
    }
    out += "\n"
    let taskIndex = tasks?.index ?? "t"
    for id in reached {
      let node = graph[id]
      let operands = node.inputs.map { Rendered(ref($0), Rendered.atom) }
      let text: String
      switch node.op {
      case .data: text = "data " + leafName(node.op)
      case .variable(let i): text = "\(variables[i].level.rawValue) " + leafName(node.op)
      case .input: text = "input " + leafName(node.op)
      default:
        text =
          OpSyntax.render(node, operands, graph: graph, leafName: leafName, taskIndex: taskIndex)
          .text
      }
      var line = "\(ref(id)) = \(text) : \(node.shape)"
      if let origin = graph.origin(id), origin.file === file {
        let (l, c) = origin.file.lineAndColumn(of: origin.start)
        line += "  # \(l):\(c)"
      }
      out += line + "\n"
    }
    out += "\n"
    if let l = innerLoss { out += "inner loss\(perTaskSuffix(l)) = \(ref(l))\n" }
    if let f = innerFixpoint {
      out += "inner fixpoint \(variables[f.variable].name)\(perTaskSuffix(f.map)) = \(ref(f.map))\n"
    }
    if let l = outerLoss {
      let weights = outerTrajectoryWeights.map { "(weights: \($0.range.text))" } ?? ""
      let over = outerTrajectory == nil ? "" : " over trajectory\(weights)"
      out += "outer loss = \(ref(l))\(over)\n"
    }
    for r in reports { out += "report \(r.name) = \(ref(r.node))\n" }
    for s in ruleStates {
      let name = s.name + (s.perTask ? "[\(tasks?.index ?? "t")]" : "")
      out += "state \(name): \(s.shape) = \(ref(s.initial)) then \(ref(s.next))\n"
    }
    if let s = innerSolver { out += "solve inner with \(settingText(s, ref))\n" }
    if let s = hypergradient { out += "hypergradient with \(settingText(s, ref))\n" }
    if let s = outerSolver { out += "solve outer with \(settingText(s, ref))\n" }
    return out
  }

  func perTaskSuffix(_ root: NodeID) -> String {
    guard let t = tasks?.index else { return "" }
    let perTask = graph.taskVarying(isPerTaskLeaf: isPerTaskLeaf)[root]
    return perTask ? "[\(t)]" : ""
  }

  /// `name(choice, setting: value, ...)`, every setting with its value, defaults included.
  public func settingText<Spec>(_ s: SolverStatement<Spec>, _ ref: (NodeID) -> String) -> String {
    let parts = s.settings.map { entry -> String in
      switch entry.value {
      case .symbol(let v):
        // A positional choice is written bare (`implicit(cg)`), any other with its name.
        let positional = SolverCatalogue.all.contains {
          $0.name == s.name && $0.settings.contains { $0.name == entry.name && $0.positional }
        }
        return positional ? v : "\(entry.name): \(v)"
      case .integer(let n): return "\(entry.name): \(n)"
      case .real(let x): return "\(entry.name): \(formatNumber(x))"
      case .expression(let id):
        if let c = graph.uniformConstant(id), graph.shape(id).isScalar {
          return "\(entry.name): \(formatNumber(c))"
        }
        return "\(entry.name): \(ref(id))"
      }
    }
    return parts.isEmpty ? s.name : "\(s.name)(\(parts.joined(separator: ", ")))"
  }
}
