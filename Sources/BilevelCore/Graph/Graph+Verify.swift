/// Whether the compiler checks its IR after every pass: in debug builds
/// (the test suite's), never in release builds, which pay nothing.
public enum IRVerification {
  #if DEBUG
    public static let runsAfterEveryPass = true
  #else
    public static let runsAfterEveryPass = false
  #endif
}

/// A graph that breaks one of its invariants, with the nodes around the fault.
public struct GraphVerificationError: Error, CustomStringConvertible {
  public let node: NodeID
  public let message: String
  /// The nodes a few either side of the fault, the faulty one marked.
  public let context: String

  public var description: String { "graph verification failed at \(node): \(message)\n\(context)" }
}

extension Graph {
  /// A graph of the given nodes as they are, for tests that hand a
  /// deliberately broken graph to `verify()`.
  init(unverifiedNodes nodes: [Node], literals: [Tensor] = []) {
    self.init()
    self.nodes = nodes
    self.literals = literals
    origins = Array(repeating: nil, count: nodes.count)
    for (i, n) in nodes.enumerated() where interned[n] == nil { interned[n] = NodeID(i) }
  }

  /// Checks the invariants every pass relies on: inputs precede their users
  /// (creation order is topological), no two nodes are the same op on the
  /// same inputs (hash-consing) and the interning table finds each node, and
  /// every node's shape is what its op's shape rule gives for its inputs.
  public func verify() throws(GraphVerificationError) {
    func fail(_ i: Int, _ message: String) -> GraphVerificationError {
      GraphVerificationError(node: NodeID(i), message: message, context: neighbourhood(of: i))
    }
    guard origins.count == nodes.count else {
      throw fail(0, "\(origins.count) origins for \(nodes.count) nodes")
    }
    var seen: [Node: Int] = [:]
    for (i, node) in nodes.enumerated() {
      if let input = node.inputs.first(where: { $0.index < 0 || $0.index >= i }) {
        throw fail(i, "input \(input) does not precede its user")
      }
      if let arity = node.op.arity, arity != node.inputs.count {
        throw fail(i, "\(node.op) takes \(arity) inputs, given \(node.inputs.count)")
      }
      if case .literal(let k) = node.op, !literals.indices.contains(k) {
        throw fail(i, "literal \(k) is not in the table of \(literals.count)")
      }
      let rule: Shape
      do {
        rule = try node.op.resultShape(
          node.inputs.map { nodes[$0.index].shape }, declared: node.shape)
      } catch {
        throw fail(i, "the shape rule rejects its inputs: \(error.message)")
      }
      if rule != node.shape {
        throw fail(i, "recorded shape \(node.shape), the shape rule gives \(rule)")
      }
      if let twin = seen[node] { throw fail(i, "the same node as %\(twin) (hash-consing)") }
      seen[node] = i
      if interned[node] != NodeID(i) {
        throw fail(i, "the interning table does not map the node to itself")
      }
    }
    if interned.count != nodes.count {
      throw fail(nodes.count - 1, "\(interned.count) interned entries for \(nodes.count) nodes")
    }
  }

  /// Checks the graph in debug builds; a failure stops with the IR around
  /// the fault, naming the pass that produced it.
  public func verifyInDebugBuilds(after pass: @autoclosure () -> String) {
    #if DEBUG
      do throws(GraphVerificationError) {
        try verify()
      } catch {
        preconditionFailure("after \(pass()): \(error)")
      }
    #endif
  }

  /// Nodes `i - 3 ... i + 3`, one a line, in a form that needs no valid
  /// graph to print (the fault may be a dangling input).
  func neighbourhood(of i: Int, radius: Int = 3) -> String {
    guard !nodes.isEmpty else { return "  (no nodes)" }
    let range = max(0, i - radius)...min(nodes.count - 1, i + radius)
    return range.map { k in
      let n = nodes[k]
      let operands = n.inputs.map(\.description).joined(separator: ", ")
      return "\(k == i ? ">" : " ") %\(k) = \(n.op)(\(operands)) : \(n.shape)"
    }.joined(separator: "\n")
  }
}
