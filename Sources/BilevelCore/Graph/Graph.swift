import BilevelFrontEnd

/// A node's dense index; inputs always have smaller IDs than their users, so
/// creation order is a topological order.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
  public let index: Int
  public init(_ index: Int) { self.index = index }
  public static func < (a: NodeID, b: NodeID) -> Bool { a.index < b.index }
  public var description: String { "%\(index)" }
}

/// One operation applied to earlier nodes. Small and hashable, so equal
/// subexpressions intern to one node.
public struct Node: Hashable, Sendable {
  public let op: Op
  public let inputs: [NodeID]
  public let shape: Shape
}

/// A node derived from the expression at its origin: its derivative (of
/// `order` ≥ 1) with respect to the `wrt` leaves.
public struct Derivation: Sendable, Hashable {
  public let wrt: [Op]
  public let order: Int
  public init(wrt: [Op], order: Int) {
    self.wrt = wrt
    self.order = order
  }

  /// One more derivative, with respect to `leaves`, of a node that may
  /// itself be derived (`base`).
  public static func of(_ base: Derivation?, wrt leaves: [Op]) -> Derivation {
    var wrt = base?.wrt ?? []
    for l in leaves where !wrt.contains(l) { wrt.append(l) }
    return Derivation(wrt: wrt, order: (base?.order ?? 0) + 1)
  }
}

/// The expression graph: immutable nodes, hash-consed, with side tables for
/// what is not part of a node's identity (source ranges, literal tensors).
public struct Graph: Sendable {
  public internal(set) var nodes: [Node] = []
  var interned: [Node: NodeID] = [:]
  /// Non-uniform constants, referenced by `.literal(index)`.
  public internal(set) var literals: [Tensor] = []
  private var literalIndex: [Tensor: Int] = [:]
  /// Where each node came from: the first source range that produced it.
  public internal(set) var origins: [SourceRange?] = []
  /// Nodes whose origin is that of an expression they are a derivative of
  /// (not their own text), so a fault there is named as a derivative.
  public internal(set) var derivations: [Int: Derivation] = [:]

  public init() {}

  public var count: Int { nodes.count }
  public subscript(id: NodeID) -> Node { nodes[id.index] }
  public func shape(_ id: NodeID) -> Shape { nodes[id.index].shape }
  public func origin(_ id: NodeID) -> SourceRange? { origins[id.index] }

  /// Interns `op(inputs)`; the shape rule runs here, so every node in a graph
  /// is well-shaped.
  public mutating func add(
    _ op: Op, _ inputs: [NodeID] = [], shape declared: Shape? = nil, at range: SourceRange? = nil
  )
    throws(ShapeError) -> NodeID
  {
    if let arity = op.arity, arity != inputs.count {
      throw ShapeError("\(op) takes \(arity) inputs, given \(inputs.count)")
    }
    let shape = try op.resultShape(inputs.map { nodes[$0.index].shape }, declared: declared)
    let node = Node(op: op, inputs: inputs, shape: shape)
    if let id = interned[node] {
      if origins[id.index] == nil, let range { origins[id.index] = range }
      return id
    }
    let id = NodeID(nodes.count)
    nodes.append(node)
    origins.append(range)
    interned[node] = id
    return id
  }

  /// For builders whose inputs are correct by construction (rewrites,
  /// derivative rules): a shape error there is a compiler bug.
  public mutating func make(
    _ op: Op, _ inputs: [NodeID] = [], shape: Shape? = nil, at range: SourceRange? = nil
  ) -> NodeID {
    do {
      return try add(op, inputs, shape: shape, at: range)
    } catch {
      preconditionFailure(
        "internal error: ill-shaped \(op) on \(inputs.map { self.shape($0) }): \(error.message)")
    }
  }

  public mutating func constant(_ value: Double, shape: Shape = .scalar) -> NodeID {
    make(.constant(value), shape: shape)
  }

  /// A constant tensor; uniform tensors become `.constant` nodes.
  public mutating func literal(_ t: Tensor, at range: SourceRange? = nil) -> NodeID {
    if let first = t.scalars.first, t.scalars.allSatisfy({ $0.bitPattern == first.bitPattern }) {
      return make(.constant(first), shape: t.shape, at: range)
    }
    let index: Int
    if let i = literalIndex[t] {
      index = i
    } else {
      index = literals.count
      literals.append(t)
      literalIndex[t] = index
    }
    return make(.literal(index), shape: t.shape, at: range)
  }

  /// Sets the origin of a node that has none (derived nodes inherit ranges),
  /// and what the node is a derivative of when it is one.
  public mutating func inheritOrigin(
    _ id: NodeID, from range: SourceRange?, derivation: Derivation? = nil
  ) {
    guard origins[id.index] == nil, let range else { return }
    origins[id.index] = range
    if let derivation { derivations[id.index] = derivation }
  }

  /// What `id` is a derivative of, when its origin is another expression's.
  public func derivation(_ id: NodeID) -> Derivation? { derivations[id.index] }

  /// The value of a constant or literal node, if it is one.
  public func constantValue(_ id: NodeID) -> Tensor? {
    let n = self[id]
    switch n.op {
    case .constant(let v): return Tensor(filling: v, shape: n.shape)
    case .literal(let i): return literals[i]
    default: return nil
    }
  }

  /// The scalar of a uniform constant node.
  public func uniformConstant(_ id: NodeID) -> Double? {
    if case .constant(let v) = self[id].op { return v }
    return nil
  }

  /// Nodes the roots depend on, in ID (topological) order. Iterative, so
  /// deep graphs (long unrolls) do not overflow the stack.
  public func reachable(from roots: [NodeID]) -> [NodeID] {
    var marked = [Bool](repeating: false, count: nodes.count)
    for r in roots { marked[r.index] = true }
    var i = nodes.count - 1
    while i >= 0 {
      if marked[i] { for input in nodes[i].inputs { marked[input.index] = true } }
      i -= 1
    }
    return marked.indices.filter { marked[$0] }.map(NodeID.init)
  }

  /// The variables (by index) the roots read, in node order.
  public func variables(readBy roots: [NodeID]) -> [Int] {
    reachable(from: roots).compactMap { id in
      if case .variable(let i) = self[id].op { return i }
      return nil
    }
  }
}
