extension Program {
  /// The program with its graph rewritten to normal form; every node the
  /// program refers to is remapped.
  public func simplified(
    unsafeMath: Bool = false
  ) -> (program: Program, fired: [(rule: String, count: Int)]) {
    let result = simplified(unsafeMath: unsafeMath, keeping: [])
    return (result.program, result.fired)
  }

  /// The same rewriting, keeping `nodes` as well (expressions outside the
  /// program's statements, as the REPL's): `kept` is where each went.
  public func simplified(
    unsafeMath: Bool = false, keeping nodes: [NodeID]
  )
    -> (program: Program, kept: [NodeID], fired: [(rule: String, count: Int)])
  {
    let result = Simplifier.simplify(graph, roots: roots + nodes, unsafeMath: unsafeMath)
    var p = self
    p.graph = result.graph
    p.remap { result.mapping[$0]! }
    // Lets are names only; one the roots do not reach is dropped.
    p.lets = lets.compactMap { l in result.mapping[l.node].map { (l.name, $0, l.perTask) } }
    return (p, nodes.map { result.mapping[$0]! }, result.fired)
  }

  /// Applies `f` to every node reference the program holds.
  public mutating func remap(_ f: (NodeID) -> NodeID) {
    variables = variables.map { v in
      Variable(
        name: v.name, level: v.level, shape: v.shape, perTask: v.perTask, initial: f(v.initial),
        bounds: v.bounds.map { (f($0.lower), f($0.upper)) }, range: v.range)
    }
    innerLoss = innerLoss.map(f)
    ruleStates = ruleStates.map { $0.mapped(f) }
    reports = reports.map { ReportStatement(name: $0.name, node: f($0.node), range: $0.range) }
    outerLoss = outerLoss.map(f)
    proxies = proxies.map { $0.remapped(f) }
    innerFixpoint = innerFixpoint.map {
      Fixpoint(variable: $0.variable, map: f($0.map), range: $0.range)
    }
    innerSolver = innerSolver.map { s in
      SolverStatement(
        spec: s.spec.map(f), name: s.name,
        settings: s.settings.map { entry in
          if case .expression(let id) = entry.value { return (entry.name, .expression(f(id))) }
          return entry
        }, range: s.range)
    }
  }
}
