import BilevelFrontEnd

/// Checks that the program is a bilevel problem the solvers can take: one
/// inner problem, one outer loss, variables that matter, solvers and a
/// method that fit (LANGUAGE.md, METHODS.md).
extension Elaborator {
  mutating func checkStructure() {
    let start = SourceRange(file: program.file, start: 0, end: 0)
    if program.variables.isEmpty && program.innerLoss == nil && program.outerLoss == nil
      && program.innerFixpoint == nil
    {
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
    let innerRootRange =
      program.innerLossRange ?? maybeInnerRoot.flatMap { program.graph.origin($0) }
    let innerAt = inner.first.map { program.variables[$0].range } ?? start
    let outerAt = outer.first.map { program.variables[$0].range } ?? start
    if maybeInnerRoot == nil {
      diagnostics.append(
        .error(.missingStatement("inner loss", example: "inner loss = sum(w^2)"), at: innerAt))
    }
    if program.outerLoss == nil {
      diagnostics.append(
        .error(
          .missingStatement("outer loss", example: "outer loss = mean((X @ w - y)^2)"), at: outerAt)
      )
    }
    // closed_form never iterates, so it needs no inner solver.
    if program.innerSolver == nil && program.hypergradient?.spec.method?.needsInnerSolver != false {
      diagnostics.append(
        .error(
          .missingStatement("inner solver", example: "solve inner with gd(lr: 0.1, steps: 100)"),
          at: innerRootRange ?? innerAt))
    }
    if program.outerSolver == nil {
      diagnostics.append(
        .error(
          .missingStatement("outer solver", example: "solve outer with adam(lr: 0.1, steps: 40)"),
          at: program.outerLossRange ?? outerAt))
    }
    if hasErrors { return }
    if let (w, at) = program.outerTrajectoryWeights, let T = program.innerSolver?.spec.fixedSteps,
      w.count != T
    {
      diagnostics.append(
        .error(
          .trajectoryWeightsLength(at.text, count: w.count, steps: T), at: at))
    }
    let graph = program.graph
    func variablesReached(from roots: [NodeID]) -> Set<Int> { Set(graph.variables(readBy: roots)) }
    let innerRoot = maybeInnerRoot!
    let reachedByInner = variablesReached(from: [innerRoot])
    if let f = program.innerFixpoint {
      for i in inner where i != f.variable {
        diagnostics.append(
          .error(
            .fixpointExtraVariable(program.variables[i].name, program.variables[f.variable].name),
            at: program.variables[i].range))
      }
    } else {
      for i in inner where !reachedByInner.contains(i) {
        diagnostics.append(
          .error(.innerVariableUnused(program.variables[i].name), at: program.variables[i].range))
      }
    }
    // What the inner problem sees of φ: its loss, its starting point, its solver settings.
    var innerRoots = [innerRoot] + inner.map { program.variables[$0].initial }
    innerRoots += program.innerSolver?.spec.expressions ?? []
    innerRoots += program.ruleStates.map(\.next)
    let reachedByInnerProblem = variablesReached(from: innerRoots)
    let reachedByOuter = variablesReached(from: [program.outerLoss!])
    for i in outer where !reachedByInnerProblem.contains(i) && !reachedByOuter.contains(i) {
      warning(.outerVariableUnused(program.variables[i].name), at: program.variables[i].range)
    }
    if !inner.contains(where: reachedByOuter.contains) {
      warning(
        .outerLossIgnoresInner, at: program.outerLossRange ?? graph.origin(program.outerLoss!))
    }
    if !outer.contains(where: reachedByInnerProblem.contains) {
      warning(.innerIgnoresOuter, at: innerRootRange ?? graph.origin(innerRoot))
    }
    if program.innerSolver != nil { checkSolverFits() }
  }

  /// No inner problem at all: the base learner is solved in the program
  /// itself (a ridge head through `solve`, as R2D2 does), and the outer loss
  /// is minimised directly; its gradient is the exact hypergradient.
  mutating func checkSingleLevel(_ start: SourceRange) {
    let outer = program.variables(.outer)
    if outer.isEmpty { diagnostics.append(.error(.noOuterVariables, at: start)) }
    let outerAt = outer.first.map { program.variables[$0].range } ?? start
    guard let loss = program.outerLoss else {
      diagnostics.append(
        .error(
          .missingStatement("outer loss", example: "outer loss = mean((X @ w - y)^2)"), at: outerAt)
      )
      return
    }
    if program.outerSolver == nil {
      diagnostics.append(
        .error(
          .missingStatement("outer solver", example: "solve outer with adam(lr: 0.1, steps: 40)"),
          at: program.outerLossRange ?? outerAt))
    }
    if let method = program.hypergradient {
      diagnostics.append(.error(.singleLevelMethod, at: method.range))
    }
    let reached = Set(program.graph.variables(readBy: [loss]))
    for i in outer where !reached.contains(i) {
      warning(.outerVariableUnused(program.variables[i].name), at: program.variables[i].range)
    }
  }

  mutating func checkSolverFits() {
    let solver = program.innerSolver!
    let isFixpoint = program.innerFixpoint != nil
    if isFixpoint && !solver.spec.solvesFixpoint {
      diagnostics.append(.error(.minimiserOnFixpoint(solver.name), at: solver.range))
    }
    if !isFixpoint && solver.spec.solvesFixpoint {
      diagnostics.append(.error(.fixpointOnLoss(solver.name), at: solver.range))
    }
    if program.innerStart == .warm { checkWarmStart(solver) }
  }

  /// A warm start holds the carried state constant, so the start may not
  /// depend on φ, and a method must have inner steps to continue.
  mutating func checkWarmStart(_ solver: SolverStatement<InnerSolverSpec<NodeID>>) {
    if let method = program.hypergradient, method.spec.method == .closedForm {
      diagnostics.append(.error(.warmStartWithoutSteps(method.name), at: method.range))
    }
    let outer = Set(program.variables(.outer))
    for i in program.variables(.inner) {
      let v = program.variables[i]
      if let o = program.graph.variables(readBy: [v.initial]).first(where: outer.contains) {
        diagnostics.append(
          .error(.warmStartFromOuter(v.name, program.variables[o].name), at: v.range))
      }
    }
  }
}

/// Degree of an expression as a polynomial in chosen leaves: 0, 1, 2, ... or
/// not a polynomial. `closed_form` needs degree exactly 2.
public enum PolynomialDegree {
  public static let notPolynomial = Int.max

  public static func analyse(
    _ graph: Graph, root: NodeID, isVariable: (Op) -> Bool
  ) -> (degree: Int, firstNonQuadratic: NodeID?) {
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
      case .binary(.maximum), .binary(.minimum): v = max(d[0], d[1]) == 0 ? 0 : notPolynomial
      case .binary(.power):
        if d[0] == 0 && d[1] == 0 {
          v = 0
        } else if d[1] == 0, let k = graph.uniformConstant(node.inputs[1]), k >= 0,
          k == k.rounded(), k < 64
        {
          v = d[0] == notPolynomial ? notPolynomial : d[0] * Int(k)
        } else {
          v = notPolynomial
        }
      case .broadcast, .transpose, .reshape, .slice, .concat, .diag, .taskReduce: v = d.max() ?? 0
      case .solve: v = d[0] == 0 ? d[1] : notPolynomial
      case .reduce(let r, _): v = (r == .sum || r == .mean || d[0] == 0) ? d[0] : notPolynomial
      case .argmax: v = d[0] == 0 ? 0 : notPolynomial
      }
      degree[id.index] = v
      if v > 2 && first == nil && d.allSatisfy({ $0 <= 2 }) { first = id }
    }
    return (degree[root.index], first)
  }

  static func add(_ a: Int, _ b: Int) -> Int {
    a == notPolynomial || b == notPolynomial ? notPolynomial : a + b
  }
}
