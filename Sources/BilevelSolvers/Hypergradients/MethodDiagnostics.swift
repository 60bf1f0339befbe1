import BilevelCore
import BilevelFrontEnd

/// The compile-time half of the method records: a method that cannot run on
/// the program is an error now, not at run time, and a method that cannot
/// see an outer variable is a warning.
public enum MethodDiagnostics {
  /// Elaboration followed by the method checks: what every front end (the
  /// command line, the REPL, the tests, the benchmark) compiles with.
  public static func elaborate(_ source: SourceProgram, options: CompileOptions = CompileOptions())
    -> (program: Program?, diagnostics: [Diagnostic])
  {
    let (program, diagnostics) = Elaborator.elaborate(source, options: options)
    guard let program else { return (nil, diagnostics) }
    let more = check(program)
    return (more.contains { $0.severity == .error } ? nil : program, diagnostics + more)
  }

  public static func check(_ program: Program) -> [Diagnostic] {
    guard !program.isSingleLevel, let statement = program.hypergradient, let method = statement.spec.method else { return [] }
    let record = method.record
    var out = invisibleVariables(program, method: method, view: record.view)
    if let why = record.inapplicable(ProblemSizes(program)) {
      let located = record.diagnose?(program, statement.range) ?? []
      out += located.isEmpty ? [.error(.methodDoesNotApply(method.title, why), at: statement.range)] : located
    }
    return out
  }

  /// Methods that differentiate the inner solution (not the iterations)
  /// cannot see an outer variable that only sets the solver or its start.
  static func invisibleVariables(_ program: Program, method: HypergradientMethod, view: MethodView) -> [Diagnostic] {
    if view == .iterations { return [] }
    let graph = program.graph
    func variablesReached(from roots: [NodeID]) -> Set<Int> {
      var s = Set<Int>()
      for id in graph.reachable(from: roots) { if case .variable(let i) = graph[id].op { s.insert(i) } }
      return s
    }
    let inner = program.variables(.inner)
    let innerRoot = program.innerLoss ?? program.innerFixpoint?.map
    let reachedByInner = variablesReached(from: innerRoot.map { [$0] } ?? [])
    let reachedByOuter = variablesReached(from: program.outerLoss.map { [$0] } ?? [])
    let viaSettings = variablesReached(from: program.innerSolver?.spec.expressions ?? [])
    let viaStart = variablesReached(from: inner.map { program.variables[$0].initial })
    var out: [Diagnostic] = []
    for i in program.variables(.outer) where !reachedByInner.contains(i) && !reachedByOuter.contains(i) {
      let hidden = viaSettings.contains(i) || (view == .solution && viaStart.contains(i))
      if hidden { out.append(.warning(.invisibleToMethod(program.variables[i].name, method: method.title), at: program.variables[i].range)) }
    }
    return out
  }
}
