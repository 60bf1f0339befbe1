import BilevelCore
import BilevelFrontEnd

/// The derivative products the solvers and methods evaluate, named, exactly
/// as SolverGraphs derives them for the program's own inner solver: what
/// `--emit grad` and `--emit plan` show, and what `check`'s plan agreement
/// and the plan tests evaluate. There is no other derivation to drift from.
public struct SolverProducts {
  public struct Product: Sendable {
    /// What it is, e.g. "gradient of the inner loss wrt w".
    public let name: String
    public let roots: [NodeID]
    /// The function it differentiates, for node-count ratios.
    public let function: NodeID
  }

  /// The program with the derived nodes and their inputs added.
  public let program: Program
  public let products: [Product]

  public init(_ source: Program) {
    let g = SolverGraphs(source)
    let p = g.program
    program = p
    func names(_ ids: [NodeID]) -> String {
      ids.map { p.leafName(p.graph[$0].op) }.joined(separator: ", ")
    }
    let theta = names(g.theta), phi = names(g.phi)
    let state = names(g.theta + g.optimizerState)
    var out: [Product] = []
    func add(_ name: String, _ roots: [NodeID], _ function: NodeID?) {
      guard !roots.isEmpty, let function else { return }
      out.append(Product(name: name, roots: roots, function: function))
    }
    let innerLoss = p.innerLoss
    add("gradient of the inner loss wrt \(theta)", g.innerGradient, innerLoss)
    add("gradient of the inner loss wrt \(phi)", g.innerGradientOuter, innerLoss)
    add(
      "Hessian-vector product of the inner loss wrt \(theta) along \(names(g.direction))",
      g.hessianVector, innerLoss)
    add(
      "mixed product (∂²/∂φ∂θ inner loss) · \(names(g.direction)), an m-vector over \(phi)",
      g.mixed, innerLoss)
    if let solver = p.innerSolver, g.stepRule != nil {
      let step = "one \(solver.name) step Φ over the state \(state)"
      add(step, g.step, innerLoss)
      add("(∂Φ/∂s)ᵀ u of the \(solver.name) step, over \(state)", g.stepPullback, innerLoss)
      add("(∂Φ/∂φ)ᵀ u of the \(solver.name) step, over \(phi)", g.stepOuterPullback, innerLoss)
      add("(∂Φ/∂s) ṡ + (∂Φ/∂φ) φ̇ of the \(solver.name) step", g.stepTangent, innerLoss)
      add("the step's residuals (matrix products its taped pullback reads)", g.residuals, innerLoss)
      add(
        "(∂Φ/∂s)ᵀ u, (∂Φ/∂φ)ᵀ u reading the residuals", g.tapedPullback + g.tapedOuterPullback,
        innerLoss)
    }
    let map = p.innerFixpoint?.map
    add("(∂E/∂\(theta))ᵀ u of the fixpoint map", g.fixpointPullback, map)
    add("(∂E/∂φ)ᵀ u of the fixpoint map, over \(phi)", g.fixpointOuterPullback, map)
    let initial = g.initial.first
    add("(∂θ₀/∂φ)ᵀ u of the initial point, over \(phi)", g.initialOuterPullback, initial)
    add("(∂θ₀/∂φ) φ̇ of the initial point", g.initialTangent, initial)
    add("gradient of the outer loss wrt \(theta)", g.outerGradientInner, p.outerLoss)
    add("gradient of the outer loss wrt \(phi)", g.outerGradientOuter, p.outerLoss)
    products = out
  }

  /// Nodes a set of roots needs.
  public func size(_ roots: [NodeID]) -> Int { program.graph.reachable(from: roots).count }

  /// The `--emit grad` text: the derived graphs (sharing nodes with the
  /// program's), then each product's root and its node-count ratio.
  public func dump(title: String, method: String) -> String {
    let roots = products.flatMap(\.roots)
    let reached = program.graph.reachable(from: roots)
    var number: [Int: Int] = [:]
    for (k, id) in reached.enumerated() { number[id.index] = k }
    func ref(_ id: NodeID) -> String { "%\(number[id.index]!)" }
    var out = "# derivatives of \(title) for \(method): \(reached.count) nodes\n"
    for input in program.inputs {
      out +=
        "input \(input.perTask ? "\(input.name)[\(program.tasks!.index)]" : input.name): \(input.shape)\n"
    }
    out += "\n"
    let taskIndex = program.tasks?.index ?? "t"
    for id in reached {
      let node = program.graph[id]
      let operands = node.inputs.map { Rendered(ref($0), Rendered.atom) }
      let text: String
      switch node.op {
      case .data: text = "data " + program.leafName(node.op)
      case .variable(let i):
        text = "\(program.variables[i].level.rawValue) " + program.leafName(node.op)
      case .input: text = "input " + program.leafName(node.op)
      default:
        text =
          OpSyntax.render(
            node, operands, graph: program.graph, leafName: program.leafName, taskIndex: taskIndex
          ).text
      }
      out += "\(ref(id)) = \(text) : \(node.shape)\n"
    }
    out += "\n"
    for p in products {
      let f = size([p.function])
      let n = size(p.roots)
      out += "\(p.name) = \(p.roots.map(ref).joined(separator: ", "))\n"
      out +=
        "  # \(n) node\(n == 1 ? "" : "s"); the function has \(f); ratio \(formatValue((Double(n) / Double(f) * 100).rounded() / 100))\n"
    }
    return out
  }

  /// Leaf values for evaluating the products: variables at the initial
  /// point, each input (directions, optimizer state, cotangents, residuals)
  /// drawn uniformly from [0.5, 1.5) by the seeded generator (input k, task t
  /// uses seed `seed + 10k + t`): positive, so Adam's square roots of its
  /// second moment stay real, and the same for every caller.
  public func leavesAtInitialPoint(seed: UInt64) -> LeafValues {
    let p = program
    let values = ProgramEvaluation(initialPointOf: p).variableValues
    let inputs = p.inputs.enumerated().map { k, input in
      (0..<(input.perTask ? p.tasks!.count : 1)).map { t in
        let u = RandomStream.uniform(shape: input.shape, seed: seed + UInt64(10 * k + t))
        return Tensor(shape: input.shape, scalars: u.scalars.map { $0 + 0.5 })
      }
    }
    return p.leafValues(
      variable: { i, t in values[i][p.variables[i].perTask ? t! : 0] },
      input: { i, t in inputs[i][p.inputs[i].perTask ? t! : 0] })
  }
}
