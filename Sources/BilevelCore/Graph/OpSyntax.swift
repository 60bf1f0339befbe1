/// Text with the precedence of its outermost operator, so operands get
/// parentheses exactly when the grammar needs them.
public struct Rendered: Sendable {
  public let text: String
  public let precedence: Int
  public init(_ text: String, _ precedence: Int) {
    self.text = text
    self.precedence = precedence
  }

  /// Precedence levels, as in grammar/bilevel.ebnf.
  public static let over = 0, sum = 1, product = 2, unary = 3, power = 4, postfix = 5, atom = 6

  func at(_ minimum: Int) -> String { precedence >= minimum ? text : "(\(text))" }
}

/// How each op is written in .blv syntax. Shared by the expression printer
/// (REPL, messages) and the graph dump, which passes `%n` operands.
public enum OpSyntax {
  public static func render(
    _ node: Node, _ x: [Rendered], graph: Graph, leafName: (Op) -> String, taskIndex: String
  ) -> Rendered {
    switch node.op {
    case .constant(let v):
      if node.shape.isScalar {
        return Rendered(
          formatNumber(v), v < 0 || (v == 0 && v.sign == .minus) ? Rendered.unary : Rendered.atom)
      }
      let dims = node.shape.dims.map(String.init).joined(separator: ", ")
      if v == 0 { return Rendered("zeros(\(dims))", Rendered.atom) }
      if v == 1 { return Rendered("ones(\(dims))", Rendered.atom) }
      return Rendered(
        "\(Rendered(formatNumber(v), v < 0 ? Rendered.unary : Rendered.atom).at(Rendered.product)) * ones(\(dims))",
        Rendered.product)
    case .literal(let i):
      return Rendered(literalText(graph.literals[i], index: i), Rendered.atom)
    case .data, .variable, .input:
      return Rendered(leafName(node.op), Rendered.atom)
    case .unary(.negate):
      return Rendered("-" + x[0].at(Rendered.power), Rendered.unary)
    case .unary(let f):
      return Rendered("\(f.name)(\(x[0].text))", Rendered.atom)
    case .binary(let f):
      switch f {
      case .add, .subtract:
        return Rendered(
          "\(x[0].at(Rendered.sum)) \(f.symbol) \(x[1].at(Rendered.product))", Rendered.sum)
      case .multiply, .divide:
        return Rendered(
          "\(x[0].at(Rendered.product)) \(f.symbol) \(x[1].at(Rendered.unary))", Rendered.product)
      case .power:
        return Rendered("\(x[0].at(Rendered.postfix)) ^ \(x[1].at(Rendered.unary))", Rendered.power)
      case .maximum, .minimum:
        return Rendered("\(f.symbol)(\(x[0].text), \(x[1].text))", Rendered.atom)
      }
    case .matmul(let tl, let tr):
      let l = tl ? x[0].at(Rendered.postfix) + "'" : x[0].at(Rendered.product)
      let r = tr ? x[1].at(Rendered.postfix) + "'" : x[1].at(Rendered.unary)
      return Rendered("\(l) @ \(r)", Rendered.product)
    case .transpose:
      return Rendered(x[0].at(Rendered.postfix) + "'", Rendered.postfix)
    case .broadcast:
      let dims = node.shape.dims.map(String.init).joined(separator: ", ")
      return Rendered("\(x[0].at(Rendered.product)) * ones(\(dims))", Rendered.product)
    case .reshape:
      return Rendered(
        "reshape(\(x[0].text), \(node.shape.dims.map(String.init).joined(separator: ", ")))",
        Rendered.atom)
    case .slice(let s):
      return Rendered(
        x[0].at(Rendered.postfix)
          + "[\(sliceItems(s, input: graph.shape(node.inputs[0]), output: node.shape))]",
        Rendered.postfix)
    case .concat(let axis):
      let suffix = node.shape.isMatrix && axis == 1 ? ", axis: columns" : ""
      return Rendered("concat(\(x.map(\.text).joined(separator: ", "))\(suffix))", Rendered.atom)
    case .diag:
      return Rendered("diag(\(x[0].text))", Rendered.atom)
    case .solve:
      return Rendered("solve(\(x[0].text), \(x[1].text))", Rendered.atom)
    case .reduce(let r, let axis):
      let a = axis == .all ? "" : axis == .rows ? ", axis: rows" : ", axis: columns"
      return Rendered("\(r.rawValue)(\(x[0].text)\(a))", Rendered.atom)
    case .argmax(let axis):
      let a = axis == .all ? "" : axis == .rows ? ", axis: rows" : ", axis: columns"
      return Rendered("argmax(\(x[0].text)\(a))", Rendered.atom)
    case .softmax:
      return Rendered("softmax(\(x[0].text))", Rendered.atom)
    case .logSoftmax:
      return Rendered("log_softmax(\(x[0].text))", Rendered.atom)
    case .taskReduce(let r):
      return Rendered("\(r.rawValue) over \(taskIndex): \(x[0].text)", Rendered.over)
    }
  }

  /// 1-based, inclusive index items for a slice.
  static func sliceItems(_ s: SliceSpec, input: Shape, output: Shape) -> String {
    func item(_ lo: Int, _ hi: Int, size: Int, drop: Bool) -> String {
      if drop { return "\(lo + 1)" }
      if lo == 0 && hi == size { return ":" }
      return "\(lo + 1):\(hi)"
    }
    if !input.isMatrix {
      return item(s.rowStart, s.rowEnd, size: input.rows, drop: output.isScalar)
    }
    let rowsKept =
      output.isMatrix
      || (output.isVector
        && !(s.rowEnd - s.rowStart == 1 && output.rows == s.columnEnd - s.columnStart))
    let columnsKept = output.isMatrix || (output.isVector && !rowsKept)
    return item(s.rowStart, s.rowEnd, size: input.rows, drop: !rowsKept) + ", "
      + item(s.columnStart, s.columnEnd, size: input.columns, drop: !columnsKept)
  }

  /// Small literals inline as array syntax; large ones by index.
  static func literalText(_ t: Tensor, index: Int) -> String {
    guard t.shape.count <= 16 else { return "literal\(index)" }
    if t.shape.isScalar { return formatNumber(t.scalar) }
    if t.shape.isVector { return "[" + t.scalars.map(formatNumber).joined(separator: ", ") + "]" }
    let rows = (0..<t.shape.rows).map { i in
      "[" + (0..<t.shape.columns).map { formatNumber(t[i, $0]) }.joined(separator: ", ") + "]"
    }
    return "[" + rows.joined(separator: ", ") + "]"
  }
}

/// Prints graph nodes back as .blv expressions. Subexpressions used more
/// than once are written out each time unless that makes the text long;
/// then they become `let` lines.
public struct ExpressionPrinter {
  public let graph: Graph
  public let leafName: (Op) -> String
  public let taskIndex: String

  public init(graph: Graph, taskIndex: String = "t", leafName: @escaping (Op) -> String) {
    self.graph = graph
    self.leafName = leafName
    self.taskIndex = taskIndex
  }

  public func render(_ root: NodeID, maximumLength: Int = 2000) -> String {
    // Written out in full only while short: a chain of nodes each used twice
    // would otherwise expand to exponentially long text before any check.
    if let expanded = renderAll(root, shared: [], stoppingAbove: 4 * maximumLength),
      expanded.count <= maximumLength
    {
      return expanded
    }
    // Name the shared interior nodes.
    var uses = [Int](repeating: 0, count: graph.count)
    let reached = graph.reachable(from: [root])
    for id in reached { for i in graph[id].inputs { uses[i.index] += 1 } }
    let shared = Set(reached.filter { uses[$0.index] > 1 && !graph[$0].op.isLeaf })
    return renderAll(root, shared: shared)!
  }

  /// nil as soon as one node's text has more than `limit` bytes.
  func renderAll(_ root: NodeID, shared: Set<NodeID>, stoppingAbove limit: Int = .max) -> String? {
    var texts: [Int: Rendered] = [:]
    var lines: [String] = []
    for id in graph.reachable(from: [root]) {
      let node = graph[id]
      let r = OpSyntax.render(
        node, node.inputs.map { texts[$0.index]! }, graph: graph, leafName: leafName,
        taskIndex: taskIndex)
      if shared.contains(id) && id != root {
        let name = "e\(lines.count + 1)"
        lines.append("let \(name) = \(r.text)")
        texts[id.index] = Rendered(name, Rendered.atom)
      } else {
        if r.text.utf8.count > limit { return nil }
        texts[id.index] = r
      }
    }
    return (lines + [texts[root.index]!.text]).joined(separator: "\n")
  }
}

extension Program {
  /// Leaves by their declared names; per-task ones as `name[t]`.
  public func leafName(_ op: Op) -> String {
    let t = tasks?.index ?? "t"
    switch op {
    case .data(let i):
      return data[i].perTask && data[i].name != t ? "\(data[i].name)[\(t)]" : data[i].name
    case .variable(let i):
      return variables[i].perTask ? "\(variables[i].name)[\(t)]" : variables[i].name
    case .input(let i): return inputs[i].perTask ? "\(inputs[i].name)[\(t)]" : inputs[i].name
    default: return "?"
    }
  }

  public func expressionPrinter(_ graph: Graph? = nil) -> ExpressionPrinter {
    ExpressionPrinter(
      graph: graph ?? self.graph, taskIndex: tasks?.index ?? "t", leafName: leafName)
  }
}
