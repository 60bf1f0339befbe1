/// What the plans of some roots take from the program's ConstantPool beyond
/// the data (XᵀX, Xᵀy), sized without computing it: the same reassociation
/// as `PlanBuilder.build` and the same rule for which values of data alone a
/// plan reads (`hoistConstants`), over the union of the roots, where equal
/// products are one node as they are one buffer in the pool.
public struct HoistedConstants: Sendable {
  /// Entries of those values over every task.
  public let entries: Int
  /// Flops to compute them once (each node of their cones counted once).
  public let flops: Double

  public var bytes: Int { entries.multipliedReportingOverflow(by: 8).overflow ? .max : entries * 8 }

  public init(_ program: Program, roots: [NodeID]) {
    let r = Simplifier.simplify(
      program.graph, roots: program.roots + roots, extraRules: Reassociation.rules)
    let graph = r.graph
    let mapped = roots.map { r.mapping[$0]! }
    let depends = graph.parameterDependence()
    let varying = graph.taskVarying(isPerTaskLeaf: program.isPerTaskLeaf)
    let tasks = Double(program.tasks?.count ?? 1)
    var needed = [Bool](repeating: false, count: graph.count)
    for m in mapped where !depends[m] { needed[m.index] = true }
    let order = graph.reachable(from: mapped)
    for id in order where depends[id] {
      for input in graph[id].inputs where !depends[input] { needed[input.index] = true }
    }
    // Leaves are the program's own (data, literals) or immediates: not the pool's products.
    var entries = 0.0
    var inCone = needed
    var flops = 0.0
    for id in order.reversed() where inCone[id.index] && !graph[id].op.isLeaf {
      let node = graph[id]
      let copies = varying[id] ? tasks : 1
      if needed[id.index] { entries += Double(node.shape.count) * copies }
      flops += Self.flops(node, graph) * copies
      for input in node.inputs { inCone[input.index] = true }
    }
    self.entries = entries < Double(Int.max / 8) ? Int(entries) : Int.max / 8
    self.flops = flops
  }

  /// One evaluation of `node`: 2·m·n·k for a product (√(|A|·|B|·|C|) = m·n·k
  /// whatever the transposes), an LU solve's, else one per entry touched.
  static func flops(_ node: Node, _ graph: Graph) -> Double {
    let sizes = node.inputs.map { Double(graph.shape($0).count) }
    let out = Double(node.shape.count)
    switch node.op {
    case .matmul: return 2 * (sizes[0] * sizes[1] * out).squareRoot()
    case .solve:
      let n = Double(graph.shape(node.inputs[0]).rows)
      return 2 * n * n * n / 3 + 2 * n * sizes[1]
    default: return max(out, sizes.max() ?? 0)
    }
  }
}
