import BilevelCore
import BilevelFrontEnd

/// A graph to differentiate, built from .blv statements and one expression,
/// with a point: values for the `wrt` leaves (data or variables), flattened
/// into one vector. A per-task leaf takes one copy per task in that vector.
/// Directions and cotangents are `.input` leaves, so each derivative graph is
/// built once and evaluated at many values.
public struct DerivativeHarness {
  public struct Leaf: Sendable {
    public let name: String
    public let node: NodeID
    public let shape: Shape
    public let perTask: Bool
  }

  public struct BuildError: Error, CustomStringConvertible {
    public let description: String
  }

  public var graph: Graph
  /// The expression's node.
  public private(set) var output: NodeID
  public let leaves: [Leaf]
  /// The leaves' values at the starting point (the bound data, the
  /// variables' initial values), flattened.
  public let start: [Double]
  public let taskCount: Int
  public let program: Program
  /// Rewrites that may change IEEE results, in simplification and in
  /// derivative graphs (the compiler's unsafe-math mode).
  public let unsafeMath: Bool
  let variableValues: [[Tensor]]
  var inputs: [(shape: Shape, perTask: Bool)] = []
  let leafIndex: [Op: Int]
  let offsets: [Int]

  /// Elaborates `statements` one by one as the REPL does, then `expression`;
  /// `wrt` names data entries or variables. With `simplify`, the graph is
  /// first brought to the normal form the compiler differentiates.
  public init(
    statements: [String], expression: String, wrt: [String], simplify: Bool,
    unsafeMath: Bool = false
  ) throws {
    var e = Elaborator(file: SourceFile(path: "<test>", text: ""), options: CompileOptions())
    var diagnostics: [Diagnostic] = []
    func parse(_ line: String) -> REPLInput? {
      let (input, syntax) = Parser.parseREPLLine(SourceFile(path: "<test>", text: line))
      diagnostics += syntax
      return input
    }
    for line in statements {
      guard case .statement(let s)? = parse(line) else {
        throw BuildError(description: "not a statement: \(line)")
      }
      e.statement(s)
      diagnostics += e.takeDiagnostics()
    }
    var node: NodeID? = nil
    if case .expression(let x)? = parse(expression) { node = e.expressionNode(x) }
    diagnostics += e.takeDiagnostics()
    let errors = diagnostics.filter { $0.severity == .error }
    guard errors.isEmpty, let node else {
      throw BuildError(
        description: "\(expression): " + errors.map(\.message).joined(separator: "; "))
    }
    var leafNodes: [NodeID] = []
    for name in wrt {
      guard let leaf = e.leafNode(named: name) else {
        throw BuildError(description: "\(name) is not a leaf")
      }
      leafNodes.append(leaf)
    }
    var program = e.program
    var output = node
    // The initial point, before simplifying renumbers the variables' initial nodes.
    let evaluation = ProgramEvaluation(initialPointOf: program)
    if simplify {
      let s = Simplifier.simplify(program.graph, roots: [node] + leafNodes, unsafeMath: unsafeMath)
      program.graph = s.graph
      output = s.roots[0]
      leafNodes = Array(s.roots.dropFirst())
    }
    var leaves: [Leaf] = []
    var start: [Double] = []
    for (name, id) in zip(wrt, leafNodes) {
      let values: [Tensor]
      switch program.graph[id].op {
      case .data(let i): values = program.data[i].values
      case .variable(let i): values = evaluation.variableValues[i]
      default: throw BuildError(description: "\(name) is not a leaf")
      }
      leaves.append(
        Leaf(
          name: name, node: id, shape: program.graph.shape(id),
          perTask: values.count > 1 || program.isPerTaskLeaf(program.graph[id].op)))
      for v in values { start += v.scalars }
    }
    self.graph = program.graph
    self.output = output
    self.leaves = leaves
    self.start = start
    self.program = program
    self.unsafeMath = unsafeMath
    self.taskCount = program.tasks?.count ?? 1
    self.variableValues = evaluation.variableValues
    var index: [Op: Int] = [:]
    var offsets: [Int] = []
    var offset = 0
    for (k, leaf) in leaves.enumerated() {
      index[program.graph[leaf.node].op] = k
      offsets.append(offset)
      offset += leaf.shape.count * (leaf.perTask ? program.tasks!.count : 1)
    }
    self.leafIndex = index
    self.offsets = offsets
  }

  /// `data` statements binding names to tensors (exact literals).
  public static func dataStatements(_ bindings: [(String, Tensor)]) -> [String] {
    bindings.map { "data \($0.0) = \(TestPrograms.literal($0.1))" }
  }

  /// Entries in the flat point vector.
  public var dimension: Int { start.count }

  /// Which flat coordinates belong to leaf k.
  public func coordinates(of k: Int) -> Range<Int> {
    offsets[k]..<(offsets[k] + leaves[k].shape.count * (leaves[k].perTask ? taskCount : 1))
  }

  /// Replaces the output node (e.g. by a function of it).
  public mutating func setOutput(_ id: NodeID) { output = id }

  // MARK: Inputs

  /// A new `.input` leaf; per-task inputs take one value per task.
  public mutating func input(_ shape: Shape, perTask: Bool = false) -> NodeID {
    inputs.append((shape, perTask))
    return graph.make(.input(inputs.count - 1), shape: shape)
  }

  /// One input per leaf, of its shape: a direction in the point's space.
  public mutating func direction() -> [NodeID] {
    leaves.map { input($0.shape, perTask: $0.perTask) }
  }

  /// Input values: a flat vector in the point's layout for `direction` inputs.
  public func bind(_ direction: [NodeID], _ flat: [Double]) -> [Int: [Tensor]] {
    var values: [Int: [Tensor]] = [:]
    for (k, id) in direction.enumerated() {
      guard case .input(let i) = graph[id].op else { preconditionFailure("not an input") }
      values[i] = split(k, Array(flat[coordinates(of: k)]))
    }
    return values
  }

  /// A value for one shared input.
  public func bind(_ id: NodeID, _ value: [Double]) -> [Int: [Tensor]] {
    guard case .input(let i) = graph[id].op else { preconditionFailure("not an input") }
    return [i: [Tensor(shape: graph.shape(id), scalars: value)]]
  }

  func split(_ k: Int, _ flat: [Double]) -> [Tensor] {
    let n = leaves[k].shape.count
    return stride(from: 0, to: flat.count, by: n).map {
      Tensor(shape: leaves[k].shape, scalars: Array(flat[$0..<($0 + n)]))
    }
  }

  // MARK: Differentiation and evaluation

  public var isPerTaskLeaf: @Sendable (Op) -> Bool {
    let inputs = self.inputs.map(\.perTask)
    let program = self.program.isPerTaskLeaf
    return { op in
      if case .input(let i) = op { return inputs[i] }
      return program(op)
    }
  }

  /// Runs derivative builders on this graph and keeps the nodes they add.
  public mutating func differentiate<R>(_ body: (inout Differentiator) -> R) -> R {
    var d = Differentiator(
      graph: graph, tasks: taskCount, unsafeMath: unsafeMath, isPerTaskLeaf: isPerTaskLeaf)
    let result = body(&d)
    graph = d.graph
    return result
  }

  func leafValues(_ x: [Double], _ inputValues: [Int: [Tensor]]) -> LeafValues {
    let data = program.data
    let variables = variableValues
    let index = leafIndex
    let point = leaves.indices.map { split($0, Array(x[coordinates(of: $0)])) }
    func pick(_ values: [Tensor], _ t: Int?) -> Tensor {
      values.count == 1 ? values[0] : values[t!]
    }
    return LeafValues(
      data: { i, t in pick(index[.data(i)].map { point[$0] } ?? data[i].values, t) },
      variable: { i, t in pick(index[.variable(i)].map { point[$0] } ?? variables[i], t) },
      input: { i, t in pick(inputValues[i]!, t) },
      isPerTask: isPerTaskLeaf)
  }

  /// Values of shared nodes at point x.
  public func evaluate(
    _ nodes: [NodeID], at x: [Double], inputs: [Int: [Tensor]] = [:], task: Int? = nil
  ) -> [Tensor] {
    ReferenceEvaluator.evaluate(
      graph, roots: nodes, leaves: leafValues(x, inputs), taskCount: taskCount, task: task)
  }

  /// The entries of one shared node.
  public func values(_ node: NodeID, at x: [Double], inputs: [Int: [Tensor]] = [:]) -> [Double] {
    evaluate([node], at: x, inputs: inputs)[0].scalars
  }

  public func scalar(_ node: NodeID, at x: [Double], inputs: [Int: [Tensor]] = [:]) -> Double {
    values(node, at: x, inputs: inputs)[0]
  }

  /// One node shaped like leaf k (e.g. its gradient), flattened like its
  /// coordinates; evaluated per task for a per-task leaf.
  public func shaped(
    like k: Int, _ node: NodeID, at x: [Double], inputs: [Int: [Tensor]] = [:]
  ) -> [Double] {
    guard leaves[k].perTask else { return values(node, at: x, inputs: inputs) }
    return (0..<taskCount).flatMap { evaluate([node], at: x, inputs: inputs, task: $0)[0].scalars }
  }

  /// Nodes shaped like the leaves (one per leaf, e.g. a gradient), flattened
  /// in the point's layout; per-task ones are evaluated once per task.
  public func leafShaped(
    _ nodes: [NodeID], at x: [Double], inputs: [Int: [Tensor]] = [:]
  ) -> [Double] {
    let shared = leaves.indices.filter { !leaves[$0].perTask }
    let perTask = leaves.indices.filter { leaves[$0].perTask }
    var parts = [[Double]](repeating: [], count: leaves.count)
    if !shared.isEmpty {
      let values = evaluate(shared.map { nodes[$0] }, at: x, inputs: inputs)
      for (k, v) in zip(shared, values) { parts[k] = v.scalars }
    }
    if !perTask.isEmpty {
      for t in 0..<taskCount {
        let values = evaluate(perTask.map { nodes[$0] }, at: x, inputs: inputs, task: t)
        for (k, v) in zip(perTask, values) { parts[k] += v.scalars }
      }
    }
    return parts.flatMap { $0 }
  }
}
