import BilevelFrontEnd

/// Symbolic differentiation: derivative graphs built in the same IR, through
/// the rewriter, so they are simplified as they are made and can be
/// differentiated again. Every entry point names what it differentiates
/// with respect to (`wrt`) and along which direction (`along`); there is no
/// ambient tape, so nested derivatives cannot confuse their perturbations.
public struct Differentiator {
  public var builder: Rewriter
  let tasks: Int
  let isPerTaskLeaf: (Op) -> Bool

  public init(
    graph: Graph, tasks: Int = 1, unsafeMath: Bool = false,
    isPerTaskLeaf: @escaping (Op) -> Bool = { _ in false }
  ) {
    builder = Rewriter(graph: graph, unsafeMath: unsafeMath)
    self.tasks = tasks
    self.isPerTaskLeaf = isPerTaskLeaf
  }

  /// Over a program's graph, with its tasks and per-task leaves.
  public init(program: Program, unsafeMath: Bool = false) {
    self.init(
      graph: program.graph, tasks: program.tasks?.count ?? 1, unsafeMath: unsafeMath,
      isPerTaskLeaf: program.isPerTaskLeaf)
  }

  public var graph: Graph { builder.graph }

  // MARK: Reverse mode

  /// ∂⟨outputs, cotangents⟩/∂wrt: a vector-Jacobian product. Cotangents have
  /// the outputs' shapes; results have the `wrt` leaves' shapes.
  public mutating func vectorJacobianProduct(
    of outputs: [NodeID], cotangents: [NodeID], wrt: [NodeID]
  ) -> [NodeID] {
    let order = graph.reachable(from: outputs)
    // Active: on a path from a `wrt` leaf.
    let isActive = graph.dependence(onNodes: wrt)
    let varying = graph.taskVarying(isPerTaskLeaf: isPerTaskLeaf)
    let wrtLeaves = wrt.map { graph[$0].op }
    var adjoint: [Int: NodeID] = [:]
    for (y, c) in zip(outputs, cotangents) where isActive[y] {
      adjoint[y.index] = adjoint[y.index].map { builder.add($0, c) } ?? c
    }
    for id in order.reversed() {
      guard isActive[id], let g = adjoint[id.index] else { continue }
      let node = graph[id]
      if node.op.isLeaf { continue }
      for (k, input) in node.inputs.enumerated() where isActive[input] {
        let before = graph.count
        var contribution = node.op.vjp(&builder, node, id, g, input: k, tasks: tasks)
        // A structurally zero derivative (sign', step') contributes nothing.
        if builder.value(contribution) == 0 { continue }
        // Per-task work flowing into shared values adds up over the tasks.
        if varying[id] && !varying[input] {
          contribution = builder.node(.taskReduce(.sum), [contribution])
        }
        markDerived(from: before, and: contribution, of: id, wrt: wrtLeaves)
        adjoint[input.index] =
          adjoint[input.index].map { builder.add($0, contribution) } ?? contribution
      }
    }
    let results = wrt.map { adjoint[$0.index] ?? builder.zeros(graph.shape($0)) }
    graph.verifyInDebugBuilds(after: "reverse-mode differentiation")
    return results
  }

  /// ∇_wrt f for a scalar f.
  public mutating func gradient(of f: NodeID, wrt: [NodeID]) -> [NodeID] {
    precondition(graph.shape(f).isScalar, "gradient of a non-scalar")
    return vectorJacobianProduct(of: [f], cotangents: [builder.scalar(1)], wrt: wrt)
  }

  /// Gives the nodes a derivative rule made (those from `before` on, and
  /// its result) the source of the node differentiated, marked as its
  /// derivative, so a fault inside them names what it came from.
  mutating func markDerived(from before: Int, and result: NodeID, of id: NodeID, wrt: [Op]) {
    let range = graph.origin(id)
    let derivation = Derivation.of(graph.derivation(id), wrt: wrt)
    for i in before..<graph.count {
      builder.graph.inheritOrigin(NodeID(i), from: range, derivation: derivation)
    }
    builder.graph.inheritOrigin(result, from: range, derivation: derivation)
  }

  /// Gives the nodes made since `before` that have no source `range`.
  public mutating func giveOrigin(_ range: SourceRange?, toNodesFrom before: Int) {
    for i in before..<graph.count { builder.graph.inheritOrigin(NodeID(i), from: range) }
  }

  // MARK: Forward mode

  /// (∂outputs/∂wrt) · along: a Jacobian-vector product. `along` has the
  /// shapes of `wrt`; results have the outputs' shapes.
  public mutating func jacobianVectorProduct(
    of outputs: [NodeID], wrt: [NodeID], along: [NodeID]
  ) -> [NodeID] {
    let order = graph.reachable(from: outputs)
    let isActive = graph.dependence(onNodes: wrt)
    let wrtLeaves = wrt.map { graph[$0].op }
    var tangent: [Int: NodeID] = [:]
    for (w, v) in zip(wrt, along) { tangent[w.index] = v }
    for id in order where isActive[id] && tangent[id.index] == nil {
      let node = graph[id]
      if node.op.isLeaf { continue }
      let inputs = node.inputs.map { tangent[$0.index] }
      // A node whose active inputs all have structurally zero tangents has none.
      if inputs.allSatisfy({ $0 == nil }) { continue }
      let before = graph.count
      let t = node.op.jvp(&builder, node, id, inputs)
      if builder.value(t) == 0 { continue }
      markDerived(from: before, and: t, of: id, wrt: wrtLeaves)
      tangent[id.index] = t
    }
    let results = outputs.map { tangent[$0.index] ?? builder.zeros(graph.shape($0)) }
    graph.verifyInDebugBuilds(after: "forward-mode differentiation")
    return results
  }

  // MARK: Second order

  /// H v = ∂/∂wrt ⟨∇_wrt f, v⟩, forward over reverse: one gradient graph and
  /// its Jacobian-vector product along v.
  public mutating func hessianVectorProduct(
    of f: NodeID, wrt: [NodeID], along: [NodeID]
  ) -> [NodeID] {
    let g = gradient(of: f, wrt: wrt)
    return jacobianVectorProduct(of: g, wrt: wrt, along: along)
  }

  /// The mixed product (∂²f/∂second∂first) · along = ∂/∂first ⟨∇_second f⟩ · along:
  /// the gradient with respect to `second`, differentiated forward along
  /// `along` in the `first` variables. With first = θ, second = φ this is the
  /// (∂²L/∂φ∂θ) v of the implicit methods (an m-vector from a d-vector).
  public mutating func mixedProduct(
    of f: NodeID, differentiating second: [NodeID], along first: [NodeID], direction along: [NodeID]
  ) -> [NodeID] {
    let g = gradient(of: f, wrt: second)
    return jacobianVectorProduct(of: g, wrt: first, along: along)
  }
}
