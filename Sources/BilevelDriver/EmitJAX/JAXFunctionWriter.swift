import BilevelCore
import BilevelFrontEnd

/// Why a program cannot be emitted for JAX as it means here: said at a
/// place in the source, never emitted wrong.
struct JAXRefusal: Error {
  let message: String
  let range: SourceRange?
}

/// Writes Python statements computing graph nodes with `JAXOpTable`: one
/// assignment per operation (named after the program's `let`s where one
/// names it), leaves as the function's context names them, and a task
/// reduction as a nested function vmapped over the tasks.
struct JAXFunctionWriter {
  let graph: Graph
  /// The Python expression of a leaf (variable, data, input, literal).
  let leaf: (Node) throws(JAXRefusal) -> String
  /// Python names for nodes the program names with `let`.
  let letNames: [NodeID: String]
  var lines: [String] = []

  init(
    graph: Graph, letNames: [NodeID: String] = [:],
    leaf: @escaping (Node) throws(JAXRefusal) -> String
  ) {
    self.graph = graph
    self.letNames = letNames
    self.leaf = leaf
  }

  /// Statements at `indent` computing `roots`; returns their expressions.
  mutating func write(_ roots: [NodeID], indent: String) throws(JAXRefusal) -> [String] {
    var scope: [NodeID: String] = [:]
    var used = Set<String>()
    for id in nodes(from: roots) {
      let node = graph[id]
      // A task reduction's body is written inside its own function, so its input has no name here.
      let args = node.inputs.map { scope[$0] ?? "" }
      switch JAXOpTable.translate(node, args, node.inputs.map { graph.shape($0) }) {
      case .leaf:
        scope[id] = try leaf(node)
      case .expression(let e):
        if case .constant = node.op {
          scope[id] = e
          continue
        }
        let name = fresh(id, &used)
        lines.append("\(indent)\(name) = \(e)")
        scope[id] = name
      case .taskReduction(let r):
        let body = node.inputs[0]
        let function = "task_term_\(id.index)"
        lines.append(
          "\(indent)def \(function)(theta, data):  # one task's term of a `\(r.rawValue) over` reduction"
        )
        var inner = JAXFunctionWriter(graph: graph, letNames: letNames, leaf: leaf)
        if inner.nodes(from: [body]).contains(where: {
          if case .taskReduce = graph[$0].op { return true } else { return false }
        }) {
          throw JAXRefusal(
            message: "--emit jax: a task reduction inside another is not supported",
            range: graph.origin(id))
        }
        let result = try inner.write([body], indent: indent + "    ")
        lines += inner.lines
        lines.append("\(indent)    return \(result[0])")
        let name = fresh(id, &used)
        let fold = r == .mean ? "jnp.mean" : "jnp.sum"
        lines.append("\(indent)\(name) = \(fold)(task_terms(\(function), theta, data), axis=0)")
        scope[id] = name
      }
    }
    return roots.map { scope[$0]! }
  }

  func fresh(_ id: NodeID, _ used: inout Set<String>) -> String {
    if let n = letNames[id], !used.contains(n) {
      used.insert(n)
      return n
    }
    return "t\(id.index)"
  }

  /// Nodes the roots need at this level, in topological order: a task
  /// reduction's body is written inside its own function.
  func nodes(from roots: [NodeID]) -> [NodeID] {
    guard let top = roots.max() else { return [] }
    var marked = Set(roots)
    var order: [NodeID] = []
    var i = top.index
    while i >= 0 {
      let id = NodeID(i)
      if marked.contains(id) {
        order.append(id)
        if case .taskReduce = graph[id].op {
        } else {
          for input in graph[id].inputs { marked.insert(input) }
        }
      }
      i -= 1
    }
    return order.reversed()
  }

  static let reserved: Set<String> = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif",
    "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
    "nonlocal", "not", "or",
    "pass", "raise", "return", "try", "while", "with", "yield", "theta", "phi", "data", "grad",
    "jnp", "jax", "np", "lax",
    "math", "tmap", "task_terms",
  ]

  /// A let's name as a Python identifier, or nil when it cannot be one.
  static func pythonName(_ name: String) -> String? {
    guard let first = name.unicodeScalars.first,
      first == "_" || (first.isASCII && first.properties.isAlphabetic)
    else { return nil }
    guard
      name.unicodeScalars.allSatisfy({
        $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
      })
    else {
      return nil
    }
    if reserved.contains(name) || name.hasPrefix("t") && Int(name.dropFirst()) != nil { return nil }
    return name
  }
}
