import BilevelCore
import BilevelFrontEnd

/// The compile-time half of the method records: a method that cannot run on
/// the program is an error now, not at run time, and a method that cannot
/// see an outer variable is a warning.
public enum MethodDiagnostics {
  /// Elaboration followed by the method checks: what every front end (the
  /// command line, the REPL, the tests, the benchmark) compiles with.
  public static func elaborate(
    _ source: SourceProgram, options: CompileOptions = CompileOptions()
  )
    -> (program: Program?, diagnostics: [Diagnostic])
  {
    let (program, diagnostics) = Elaborator.elaborate(source, options: options)
    guard let program else { return (nil, diagnostics) }
    let more = check(program)
    return (more.contains { $0.severity == .error } ? nil : program, diagnostics + more)
  }

  public static func check(_ program: Program) -> [Diagnostic] {
    guard !program.isSingleLevel, let statement = program.hypergradient,
      let method = statement.spec.method
    else { return [] }
    let record = method.record
    var out =
      invisibleVariables(program, method: method, view: record.view)
      + nonSmoothInnerLoss(program, method: method)
    if let why = record.inapplicable(ProblemSizes(program)) {
      let located = record.diagnose?(program, statement.range) ?? []
      out +=
        located.isEmpty
        ? [.error(.methodDoesNotApply(method.title, why), at: statement.range)] : located
    }
    return out
  }

  /// Methods that differentiate the inner solution (not the iterations)
  /// cannot see an outer variable that only sets the solver or its start;
  /// first order (the solution held, θ₀(φ) passed through) cannot see one
  /// that reaches only the inner loss. Their hypergradient in it is
  /// identically zero; the warning names a method that sees it.
  static func invisibleVariables(
    _ program: Program, method: HypergradientMethod, view: MethodView
  ) -> [Diagnostic] {
    if view == .iterations { return [] }
    let graph = program.graph
    func variablesReached(from roots: [NodeID]) -> Set<Int> {
      var s = Set<Int>()
      for id in graph.reachable(from: roots) {
        if case .variable(let i) = graph[id].op { s.insert(i) }
      }
      return s
    }
    let inner = program.variables(.inner)
    let innerRoot = program.innerLoss ?? program.innerFixpoint?.map
    let reachedByInner = variablesReached(from: innerRoot.map { [$0] } ?? [])
    let reachedByOuter = variablesReached(from: program.outerLoss.map { [$0] } ?? [])
    let viaSettings = variablesReached(from: program.innerSolver?.spec.expressions ?? [])
    let viaStart = variablesReached(from: inner.map { program.variables[$0].initial })
    var out: [Diagnostic] = []
    for i in program.variables(.outer) where !reachedByOuter.contains(i) {
      let name = program.variables[i].name
      if !reachedByInner.contains(i) {
        let hidden = viaSettings.contains(i) || (view == .solution && viaStart.contains(i))
        if hidden {
          out.append(
            .warning(.invisibleToMethod(name, method: method.title), at: program.variables[i].range)
          )
        }
      } else if view == .solutionAndStart && !viaStart.contains(i) {
        let sees =
          program.innerSolver?.spec.fixedSteps != nil
          ? "unroll(reverse) and implicit see it" : "implicit sees it"
        out.append(
          .warning(
            Message(
              "outer variable '\(name)' reaches the outer loss only through the inner solution, which \(method.title) holds fixed: its hypergradient in '\(name)' is identically zero (\(sees))"
            ),
            at: program.variables[i].range))
      }
    }
    return out
  }

  /// A kink in the inner loss along θ: the implicit function theorem needs
  /// ∇θ L_in differentiable at the solution, and abs, relu, max, sign and
  /// step are not (at their kinks; sign and step have derivative 0).
  static func nonSmoothInnerLoss(_ program: Program, method: HypergradientMethod) -> [Diagnostic] {
    guard method.kind == .implicit, let root = program.innerLoss else { return [] }
    let graph = program.graph
    let found = kinks(program, in: root, of: Set(program.variables(.inner)))
    guard let (first, id) = found.first else { return [] }
    let names = Array(Set(found.map(\.0))).sorted().joined(separator: ", ")
    return [
      .warning(
        Message(
          "the inner loss applies \(names) to the inner variables, which is not smooth: \(method.title) assumes ∇θ L_in is differentiable at the solution, and at a kink of \(first) its hypergradient may be wrong (unroll differentiates the steps taken instead)"
        ),
        at: graph.origin(id) ?? program.hypergradient?.range)
    ]
  }

  /// The non-smooth operations (abs, relu, max, sign, step) that `root`
  /// applies to values depending on the given variables, in node order.
  public static func kinks(
    _ program: Program, in root: NodeID, of variables: Set<Int>
  ) -> [(name: String, node: NodeID)] {
    let graph = program.graph
    var depends = Set<NodeID>()
    var found: [(name: String, node: NodeID)] = []
    for id in graph.reachable(from: [root]) {
      let node = graph[id]
      if case .variable(let i) = node.op, variables.contains(i) { depends.insert(id); continue }
      guard node.inputs.contains(where: depends.contains) else { continue }
      depends.insert(id)
      switch node.op {
      case .unary(let f) where [.abs, .relu, .sign, .step].contains(f): found.append((f.name, id))
      case .reduce(.max, _): found.append(("max", id))
      default: break
      }
    }
    return found
  }
}
