/// The derivative products a program's solvers and hypergradient method are
/// built from, derived symbolically into the program's own graph: gradients
/// of both losses, the inner Hessian-vector product, the mixed product, and
/// for a fixpoint inner problem the vector-Jacobian products of its map.
public struct ProgramDerivatives {
  public struct Product: Sendable {
    /// What it is, e.g. "gradient of the inner loss wrt w".
    public let name: String
    public let roots: [NodeID]
    /// The function it differentiates, for node-count ratios.
    public let function: NodeID
  }

  /// The program with the derived nodes and the direction inputs added.
  public let program: Program
  public let products: [Product]

  public init(_ source: Program) {
    var p = source
    let inner = p.variables(.inner)
    let outer = p.variables(.outer)
    func leaf(_ i: Int) -> NodeID { p.graph.make(.variable(i), shape: p.variables[i].shape) }
    let theta = inner.map(leaf)
    let phi = outer.map(leaf)
    // One direction input per inner variable: the v of H v and of the mixed product.
    var directions: [NodeID] = []
    for i in inner {
      let v = p.variables[i]
      p.inputs.append(InputEntry(name: "v_\(v.name)", shape: v.shape, perTask: v.perTask))
      directions.append(p.graph.make(.input(p.inputs.count - 1), shape: v.shape))
    }
    var d = Differentiator(program: p)
    var products: [Product] = []
    let thetaNames = inner.map { p.variables[$0].name }.joined(separator: ", ")
    let phiNames = outer.map { p.variables[$0].name }.joined(separator: ", ")
    let vNames = directions.map { p.leafName(d.graph[$0].op) }.joined(separator: ", ")
    if let loss = p.innerLoss {
      products.append(Product(name: "gradient of the inner loss wrt \(thetaNames)", roots: d.gradient(of: loss, wrt: theta), function: loss))
      products.append(Product(name: "gradient of the inner loss wrt \(phiNames)", roots: d.gradient(of: loss, wrt: phi), function: loss))
      products.append(Product(name: "Hessian-vector product of the inner loss wrt \(thetaNames) along \(vNames)",
                              roots: d.hessianVectorProduct(of: loss, wrt: theta, along: directions), function: loss))
      products.append(Product(name: "mixed product (∂²/∂φ∂θ inner loss) · \(vNames), an m-vector over \(phiNames)",
                              roots: d.mixedProduct(of: loss, differentiating: phi, along: theta, direction: directions), function: loss))
    }
    // One gradient-descent step Φ(θ, φ) = θ − lr ∇θ L_in and its
    // vector-Jacobian products: what unrolling gd differentiates per step.
    if let loss = p.innerLoss, let solver = p.innerSolver, solver.name == "gd", case .expression(let lr)? = solver.value("lr") {
      let gradient = d.gradient(of: loss, wrt: theta)
      var step: [NodeID] = []
      for (t, g) in zip(theta, gradient) { step.append(d.builder.subtract(t, d.builder.multiply(lr, g))) }
      products.append(Product(name: "one inner step Φ = \(thetaNames) − lr ∇θ inner loss", roots: step, function: loss))
      products.append(Product(name: "(∂Φ/∂θ)ᵀ \(vNames) of one inner step, over \(thetaNames)",
                              roots: d.vectorJacobianProduct(of: step, cotangents: directions, wrt: theta), function: loss))
      products.append(Product(name: "(∂Φ/∂φ)ᵀ \(vNames) of one inner step, over \(phiNames)",
                              roots: d.vectorJacobianProduct(of: step, cotangents: directions, wrt: phi), function: loss))
    }
    if let f = p.innerFixpoint, let z = theta.first, let u = directions.first {
      products.append(Product(name: "(∂E/∂\(thetaNames))ᵀ \(vNames) of the fixpoint map",
                              roots: d.vectorJacobianProduct(of: [f.map], cotangents: [u], wrt: [z]), function: f.map))
      products.append(Product(name: "(∂E/∂φ)ᵀ \(vNames) of the fixpoint map, over \(phiNames)",
                              roots: d.vectorJacobianProduct(of: [f.map], cotangents: [u], wrt: phi), function: f.map))
    }
    if let loss = p.outerLoss {
      products.append(Product(name: "gradient of the outer loss wrt \(thetaNames)", roots: d.gradient(of: loss, wrt: theta), function: loss))
      products.append(Product(name: "gradient of the outer loss wrt \(phiNames)", roots: d.gradient(of: loss, wrt: phi), function: loss))
    }
    p.graph = d.graph
    program = p
    self.products = products
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
    for input in program.inputs { out += "input \(input.perTask ? "\(input.name)[\(program.tasks!.index)]" : input.name): \(input.shape)\n" }
    out += "\n"
    let taskIndex = program.tasks?.index ?? "t"
    for id in reached {
      let node = program.graph[id]
      let operands = node.inputs.map { Rendered(ref($0), Rendered.atom) }
      let text: String
      switch node.op {
      case .data: text = "data " + program.leafName(node.op)
      case .variable(let i): text = "\(program.variables[i].level.rawValue) " + program.leafName(node.op)
      case .input: text = "input " + program.leafName(node.op)
      default: text = OpSyntax.render(node, operands, graph: program.graph, leafName: program.leafName, taskIndex: taskIndex).text
      }
      out += "\(ref(id)) = \(text) : \(node.shape)\n"
    }
    out += "\n"
    for p in products {
      let f = size([p.function])
      let n = size(p.roots)
      out += "\(p.name) = \(p.roots.map(ref).joined(separator: ", "))\n"
      out += "  # \(n) node\(n == 1 ? "" : "s"); the function has \(f); ratio \(formatValue((Double(n) / Double(f) * 100).rounded() / 100))\n"
    }
    return out
  }
}

extension ProgramDerivatives {
  /// Leaf values for evaluating the products: variables at the initial
  /// point, each direction input drawn from the seeded normal generator
  /// (input k, task t uses seed `seed + 10k + t`), so every caller that
  /// checks or times the products sees the same point.
  public func leavesAtInitialPoint(directionSeed seed: UInt64) -> LeafValues {
    let p = program
    let values = ProgramEvaluation(initialPointOf: p).variableValues
    let directions = p.inputs.enumerated().map { k, input in
      (0..<(input.perTask ? p.tasks!.count : 1)).map { t in RandomStream.normal(shape: input.shape, seed: seed + UInt64(10 * k + t)) }
    }
    return p.leafValues(variable: { i, t in values[i][p.variables[i].perTask ? t! : 0] },
                        input: { i, t in directions[i][p.inputs[i].perTask ? t! : 0] })
  }
}
