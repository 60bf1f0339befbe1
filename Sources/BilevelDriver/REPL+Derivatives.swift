import BilevelCore
import BilevelFrontEnd

/// `:grad`, `:jvp`, `:hvp`: the derivative graph, simplified, its type and
/// its value at the current values. As for a file, the program is simplified
/// first and then differentiated with its tasks and per-task leaves.
extension REPL {
  mutating func derivative(_ file: SourceFile, startingAt offset: Int, command: String) {
    let (request, syntax) = Parser.parseDerivativeRequest(
      file, startingAt: offset, needsAlong: command != ":grad")
    guard syntax.isEmpty, let request else { return report(syntax) }
    // Lets taken as variables live in a copy; otherwise the session keeps
    // what the command elaborated, as for any other line.
    var elaborator = self.elaborator
    let bindsLets = request.wrt.contains { elaborator.isLet($0.name) }
    defer { if !bindsLets { self.elaborator = elaborator } }
    if let failure = bindLets(request.wrt, in: &elaborator) { return report([failure]) }
    guard let f = elaborator.expressionNode(request.expression) else {
      return report(elaborator.takeDiagnostics())
    }
    var wrt: [NodeID] = []
    for name in request.wrt {
      guard let leaf = elaborator.leafNode(named: name.name) else {
        return report([.error(.notDifferentiable(name.name), at: name.range)])
      }
      wrt.append(leaf)
    }
    var along: [NodeID] = []
    for e in request.along {
      guard let v = elaborator.expressionNode(e) else {
        return report(elaborator.takeDiagnostics())
      }
      along.append(v)
    }
    let graph = elaborator.program.graph
    if command != ":grad" {
      if along.count != wrt.count {
        return report([
          .error(
            .directionCount(wrt.count, along.count),
            at: request.along.last?.range ?? request.wrt[0].range)
        ])
      }
      for (k, (w, v)) in zip(wrt, along).enumerated() where graph.shape(w) != graph.shape(v) {
        return report([
          .error(
            .directionShape(
              request.wrt[k].name, variable: graph.shape(w).description,
              direction: graph.shape(v).description), at: request.along[k].range)
        ])
      }
    }
    if command != ":jvp" && !graph.shape(f).isScalar {
      return report([
        .error(.gradientOfNonScalar(graph.shape(f).description), at: request.expression.range)
      ])
    }
    let simplified = Compilation.simplify(
      elaborator.program, keeping: [f] + along + wrt, options: options)
    var program = simplified.program
    let function = simplified.kept[0]
    let directions = Array(simplified.kept[1..<1 + along.count])
    let leaves = Array(simplified.kept.suffix(wrt.count))
    var d = Differentiator(program: program)
    let results: [NodeID]
    let label: String
    switch command {
    case ":grad":
      results = d.gradient(of: function, wrt: leaves)
      label = "gradient"
    case ":jvp":
      results = d.jacobianVectorProduct(of: [function], wrt: leaves, along: directions)
      label = "jvp"
    default:
      results = d.hessianVectorProduct(of: function, wrt: leaves, along: directions)
      label = "hvp"
    }
    program.graph = d.graph
    let evaluation = ProgramEvaluation(initialPointOf: program)
    for (k, r) in results.enumerated() {
      let suffix = results.count > 1 ? " wrt \(request.wrt[k].name)" : ""
      out("type\(suffix): \(d.graph.shape(r))\n")
      out("\(label)\(suffix): \(indentContinuation(program.expressionPrinter().render(r)))\n")
      out("value\(suffix): \(valueText(evaluation.evaluate(r)))\n")
    }
  }

  /// Each `wrt` name that is a constant let becomes a variable starting at
  /// its value, and the lets and defs after it are elaborated again so that
  /// they read it (`let c = 2`, `let e = c * c`: `e` depends on `c`).
  func bindLets(_ names: [Identifier], in elaborator: inout Elaborator) -> Diagnostic? {
    var bound: Set<Int> = []
    for name in names where elaborator.isLet(name.name) {
      guard elaborator.bindLetAsVariable(named: name.name, at: name.range) else {
        return .error(.letReadsVariables(name.name), at: name.range)
      }
      if let k = definitions.lastIndex(where: {
        Elaborator.declaredNames($0.statement).contains { $0.name == name.name }
      }) {
        bound.insert(k)
      }
    }
    guard let first = bound.min() else { return nil }
    for k in (first + 1)..<definitions.count where !bound.contains(k) {
      let (s, loaded) = definitions[k]
      if let loaded {
        elaborator.statement(s, readingFilesBeside: loaded)
      } else {
        elaborator.statement(s)
      }
    }
    _ = elaborator.takeDiagnostics()
    return nil
  }
}
