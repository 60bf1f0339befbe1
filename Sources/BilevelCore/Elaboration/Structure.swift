import BilevelFrontEnd

/// Checks that the program is a bilevel problem the solvers can take: one
/// inner problem, one outer loss, variables that matter, solvers and a
/// method that fit (LANGUAGE.md, METHODS.md).
extension Elaborator {
  mutating func checkStructure() {
    let start = SourceRange(file: program.file, start: 0, end: 0)
    if program.variables.isEmpty && program.innerLoss == nil && program.outerLoss == nil && program.innerFixpoint == nil {
      diagnostics.append(.error(.emptyProgram, at: start))
      return
    }
    let inner = program.variables(.inner)
    let outer = program.variables(.outer)
    if program.isSingleLevel {
      checkSingleLevel(start)
      return
    }
    if inner.isEmpty { diagnostics.append(.error(.noInnerVariables, at: start)) }
    if outer.isEmpty { diagnostics.append(.error(.noOuterVariables, at: start)) }
    // A missing statement is reported where it is needed (the first variable
    // of its level, or its loss), not at line 1, which is usually a comment.
    let maybeInnerRoot = program.innerLoss ?? program.innerFixpoint?.map
    let innerRootRange = program.innerLossRange ?? maybeInnerRoot.flatMap { program.graph.origin($0) }
    let innerAt = inner.first.map { program.variables[$0].range } ?? start
    let outerAt = outer.first.map { program.variables[$0].range } ?? start
    if maybeInnerRoot == nil {
      diagnostics.append(.error(.missingStatement("inner loss", example: "inner loss = sum(w^2)"), at: innerAt))
    }
    if program.outerLoss == nil {
      diagnostics.append(.error(.missingStatement("outer loss", example: "outer loss = mean((X @ w - y)^2)"), at: outerAt))
    }
    // closed_form never iterates, so it needs no inner solver.
    if program.innerSolver == nil && program.hypergradient?.name != "closed_form" {
      diagnostics.append(.error(.missingStatement("inner solver", example: "solve inner with gd(lr: 0.1, steps: 100)"),
                                at: innerRootRange ?? innerAt))
    }
    if program.outerSolver == nil {
      diagnostics.append(.error(.missingStatement("outer solver", example: "solve outer with adam(lr: 0.1, steps: 40)"),
                                at: program.outerLossRange ?? outerAt))
    }
    if hasErrors { return }
    let graph = program.graph
    func variablesReached(from roots: [NodeID]) -> Set<Int> { Set(graph.variables(readBy: roots)) }
    let innerRoot = maybeInnerRoot!
    let reachedByInner = variablesReached(from: [innerRoot])
    if let f = program.innerFixpoint {
      for i in inner where i != f.variable {
        diagnostics.append(.error(.fixpointExtraVariable(program.variables[i].name, program.variables[f.variable].name), at: program.variables[i].range))
      }
    } else {
      for i in inner where !reachedByInner.contains(i) {
        diagnostics.append(.error(.innerVariableUnused(program.variables[i].name), at: program.variables[i].range))
      }
    }
    // What the inner problem sees of φ: its loss, its starting point, its solver settings.
    var innerRoots = [innerRoot] + inner.map { program.variables[$0].initial }
    var settingRoots: [NodeID] = []
    for s in program.innerSolver?.settings ?? [] { if case .expression(let id) = s.value { settingRoots.append(id) } }
    innerRoots += settingRoots
    let reachedByInnerProblem = variablesReached(from: innerRoots)
    let reachedByOuter = variablesReached(from: [program.outerLoss!])
    for i in outer where !reachedByInnerProblem.contains(i) && !reachedByOuter.contains(i) {
      warning(.outerVariableUnused(program.variables[i].name), at: program.variables[i].range)
    }
    if !inner.contains(where: reachedByOuter.contains) {
      warning(.outerLossIgnoresInner, at: program.outerLossRange ?? graph.origin(program.outerLoss!))
    }
    if !outer.contains(where: reachedByInnerProblem.contains) {
      warning(.innerIgnoresOuter, at: innerRootRange ?? graph.origin(innerRoot))
    }
    // Methods that differentiate the inner solution (not the iterations)
    // cannot see an outer variable that only sets the solver or its start.
    if let method = program.hypergradient, ["implicit", "closed_form", "evograd", "first_order"].contains(method.name) {
      let viaSettings = variablesReached(from: settingRoots)
      let viaStart = variablesReached(from: inner.map { program.variables[$0].initial })
      for i in outer where !reachedByInner.contains(i) && !reachedByOuter.contains(i) {
        let hidden = viaSettings.contains(i) || (method.name != "first_order" && viaStart.contains(i))
        if hidden { warning(.invisibleToMethod(program.variables[i].name, method: methodTitle(method)), at: program.variables[i].range) }
      }
    }
    if program.innerSolver != nil { checkSolverFits() }
    if !hasErrors { checkMethodApplies() }
  }

  /// No inner problem at all: the base learner is solved in the program
  /// itself (a ridge head through `solve`, as R2D2 does), and the outer loss
  /// is minimised directly; its gradient is the exact hypergradient.
  mutating func checkSingleLevel(_ start: SourceRange) {
    let outer = program.variables(.outer)
    if outer.isEmpty { diagnostics.append(.error(.noOuterVariables, at: start)) }
    let outerAt = outer.first.map { program.variables[$0].range } ?? start
    guard let loss = program.outerLoss else {
      diagnostics.append(.error(.missingStatement("outer loss", example: "outer loss = mean((X @ w - y)^2)"), at: outerAt))
      return
    }
    if program.outerSolver == nil {
      diagnostics.append(.error(.missingStatement("outer solver", example: "solve outer with adam(lr: 0.1, steps: 40)"),
                                at: program.outerLossRange ?? outerAt))
    }
    if let method = program.hypergradient { diagnostics.append(.error(.singleLevelMethod, at: method.range)) }
    let reached = Set(program.graph.variables(readBy: [loss]))
    for i in outer where !reached.contains(i) {
      warning(.outerVariableUnused(program.variables[i].name), at: program.variables[i].range)
    }
  }

  mutating func checkSolverFits() {
    let solver = program.innerSolver!
    let isFixpoint = program.innerFixpoint != nil
    if isFixpoint && solver.name != "fixpoint" {
      diagnostics.append(.error(.solverDoesNotFit(solver.name, "minimises an inner loss; an 'inner fixpoint' is solved with fixpoint(tol: 1e-10, max_steps: 100)"), at: solver.range))
    }
    if !isFixpoint && solver.name == "fixpoint" {
      diagnostics.append(.error(.solverDoesNotFit("fixpoint", "solves an 'inner fixpoint'; minimise an inner loss with gd, momentum, adam or newton"), at: solver.range))
    }
  }

  /// A hypergradient method the program's inner problem cannot support is an error now, not at run time.
  mutating func checkMethodApplies() {
    guard let method = program.hypergradient, let solver = program.innerSolver else { return }
    let fixedSteps: Int? = SolverCatalogue.fixedStepSolvers.contains(solver.name)
      ? { if case .integer(let n)? = solver.value("steps") { return n } else { return nil } }() : nil
    let name = methodTitle(method)
    func fail(_ why: String) { diagnostics.append(.error(.methodDoesNotApply(name, why), at: method.range)) }
    switch method.name {
    case "unroll", "truncated":
      guard let steps = fixedSteps else {
        return fail("it differentiates through a fixed number of inner steps, but '\(solver.name)' stops at a tolerance; use gd, momentum or adam, or implicit(cg)")
      }
      if case .integer(let k)? = method.value("checkpoints"), k > steps {
        fail("\(k) checkpoints exceed the \(steps) inner steps")
      }
      if case .integer(let k)? = method.value("steps"), k > steps {
        fail("it truncates to the last \(k) steps, but the inner solver runs only \(steps); use unroll(reverse)")
      }
    case "finite_difference":
      if solver.name != "gd" {
        fail("it approximates the mixed product of one gradient-descent step (DARTS), but the inner solver is '\(solver.name)'")
      } else if case .expression(let lr)? = solver.value("lr"), !program.graph.shape(lr).isScalar {
        fail("it scales one difference of gradients by the learning rate, which here is per entry; use unroll(reverse)")
      }
    case "evograd":
      if program.innerFixpoint != nil { fail("it weighs perturbations by the inner loss, and an 'inner fixpoint' has none") }
    case "closed_form":
      checkQuadratic(method)
    default:
      break
    }
  }

  func methodTitle(_ m: SolverSetting) -> String {
    if case .symbol(let s)? = m.settings.first?.value { return "\(m.name)(\(s))" }
    return m.name
  }

  mutating func checkQuadratic(_ method: SolverSetting) {
    guard let loss = program.innerLoss else {
      diagnostics.append(.error(.methodDoesNotApply("closed_form", "it needs an inner loss, not an 'inner fixpoint'"), at: method.range))
      return
    }
    let names = program.variables(.inner).map { "'\(program.variables[$0].name)'" }.joined(separator: ", ")
    let analysis = PolynomialDegree.analyse(program.graph, root: loss) { op in
      if case .variable(let i) = op { return program.variables[i].level == .inner }
      return false
    }
    if let term = analysis.firstNonQuadratic {
      let range = program.graph.origin(term) ?? method.range
      diagnostics.append(.error(.notQuadratic(names, term: range.text), at: range,
                                notes: [.note(Message("closed_form was asked for here"), at: method.range)]))
    } else if analysis.degree < 2 {
      diagnostics.append(.error(.linearInnerLoss(names), at: program.graph.origin(loss) ?? method.range))
    }
  }
}

/// Degree of an expression as a polynomial in chosen leaves: 0, 1, 2, ... or
/// not a polynomial. `closed_form` needs degree exactly 2.
public enum PolynomialDegree {
  public static let notPolynomial = Int.max

  public static func analyse(_ graph: Graph, root: NodeID, isVariable: (Op) -> Bool) -> (degree: Int, firstNonQuadratic: NodeID?) {
    var degree = [Int](repeating: 0, count: graph.count)
    var first: NodeID? = nil
    for id in graph.reachable(from: [root]) {
      let node = graph[id]
      let d = node.inputs.map { degree[$0.index] }
      let v: Int
      switch node.op {
      case .constant, .literal, .data, .input: v = 0
      case .variable: v = isVariable(node.op) ? 1 : 0
      case .unary(.negate): v = d[0]
      case .unary, .softmax, .logSoftmax: v = d[0] == 0 ? 0 : notPolynomial
      case .binary(.add), .binary(.subtract): v = max(d[0], d[1])
      case .binary(.multiply), .matmul: v = add(d[0], d[1])
      case .binary(.divide): v = d[1] == 0 ? d[0] : notPolynomial
      case .binary(.power):
        if d[0] == 0 && d[1] == 0 {
          v = 0
        } else if d[1] == 0, let k = graph.uniformConstant(node.inputs[1]), k >= 0, k == k.rounded(), k < 64 {
          v = d[0] == notPolynomial ? notPolynomial : d[0] * Int(k)
        } else {
          v = notPolynomial
        }
      case .broadcast, .transpose, .reshape, .slice, .concat, .diag, .taskReduce: v = d.max() ?? 0
      case .solve: v = d[0] == 0 ? d[1] : notPolynomial
      case .reduce(let r, _): v = (r == .sum || r == .mean || d[0] == 0) ? d[0] : notPolynomial
      }
      degree[id.index] = v
      if v > 2 && first == nil && d.allSatisfy({ $0 <= 2 }) { first = id }
    }
    return (degree[root.index], first)
  }

  static func add(_ a: Int, _ b: Int) -> Int { a == notPolynomial || b == notPolynomial ? notPolynomial : a + b }
}
