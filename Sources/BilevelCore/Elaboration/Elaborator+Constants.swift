import BilevelFrontEnd
import Foundation

extension Elaborator {
  /// Elaborates an expression that must be known now (sizes, indices, bounds).
  mutating func compileTime(
    _ e: Expr, what: String, in context: ElaborationContext
  ) throws(Poisoned) -> Value {
    let v = try expression(e, in: context)
    if v.perTask || !isConstant(v.node) { throw error(.notCompileTime(what), at: e.range) }
    return v
  }

  /// True when the node depends on no variable and no per-task value.
  func isConstant(_ node: NodeID) -> Bool {
    let data = program.data
    return !program.graph.dependence { op in
      switch op {
      case .variable, .input, .taskReduce: return true
      case .data(let i): return data[i].perTask
      default: return false
      }
    }[node]
  }

  /// The value of a constant node, by the reference evaluator.
  mutating func evaluateConstant(_ node: NodeID) throws(Poisoned) -> Tensor {
    if let t = program.graph.constantValue(node) { return t }
    guard isConstant(node) else { throw Poisoned() }
    return ReferenceEvaluator.evaluate(
      program.graph, roots: [node],
      leaves: program.leafValues(variable: { _, _ in preconditionFailure("not constant") }),
      taskCount: 1, task: nil)[0]
  }

  /// A data definition's value, node by node as folding computes it
  /// (`evaluateData(_:_:shape:)`), so folded and recorded data agree bit
  /// for bit.
  mutating func evaluateData(_ node: NodeID) throws(Poisoned) -> Tensor {
    if let t = program.graph.constantValue(node) { return t }
    guard isConstant(node) else { throw Poisoned() }
    let graph = program.graph
    let data = program.data
    var values = [Tensor?](repeating: nil, count: graph.count)
    for id in graph.reachable(from: [node]) {
      let n = graph[id]
      switch n.op {
      case .data(let i): values[id.index] = data[i].values[0]
      case _ where n.op.isLeaf: values[id.index] = graph.constantValue(id)
      default:
        values[id.index] = Self.evaluateData(
          n.op, n.inputs.map { values[$0.index]! }, shape: n.shape)
      }
    }
    return values[node.index]!
  }

  /// One op of a data definition: products and solves of at least 10⁷
  /// flops on the plan kernels (ConstantPool.evaluate), as the plans'
  /// hoisted products are (the reference loops take minutes on XᵀX of a
  /// 2000×1000 X); smaller ones, and the rest, by the reference kernel,
  /// whose rounding the samples' data were made with.
  static func evaluateData(_ op: Op, _ inputs: [Tensor], shape: Shape) -> Tensor {
    let sizes = inputs.map { Double($0.shape.count) }
    let flops: Double
    switch op {
    case .matmul: flops = 2 * (sizes[0] * sizes[1] * Double(shape.count)).squareRoot()
    case .solve: flops = pow(Double(inputs[0].shape.rows), 3) + sizes[1] * sizes[0].squareRoot()
    default: flops = 0
    }
    return flops >= 1e7
      ? ConstantPool.evaluate(op, inputs, shape: shape) : op.evaluateReference(inputs, shape: shape)
  }

  /// A whole number known at compile time.
  mutating func integer(
    _ e: Expr, what: String, positive: Bool = false, in context: ElaborationContext
  ) throws(Poisoned) -> Int {
    let v = try compileTime(e, what: what, in: context)
    let t = try evaluateConstant(v.node)
    guard t.shape.isScalar else {
      throw error(.shapeMismatch("\(what) must be a scalar, not \(t.shape)"), at: e.range)
    }
    let x = t.scalar
    guard x.isFinite, x == x.rounded() else {
      throw error(.notAnInteger(what, formatNumber(x)), at: e.range)
    }
    // Beyond 2^53 doubles skip integers; no size or seed is that large.
    guard abs(x) < 9.0e15 else {
      throw error(.numberTooLarge(what, formatNumber(x), limit: "9e15"), at: e.range)
    }
    if positive && x < 1 { throw error(.notPositive(what, formatNumber(x)), at: e.range) }
    return Int(x)
  }

  /// A number known at compile time.
  mutating func real(
    _ e: Expr, what: String, in context: ElaborationContext
  ) throws(Poisoned) -> Double {
    let v = try compileTime(e, what: what, in: context)
    let t = try evaluateConstant(v.node)
    guard t.shape.isScalar else {
      throw error(.shapeMismatch("\(what) must be a scalar, not \(t.shape)"), at: e.range)
    }
    return t.scalar
  }

  /// A size argument (zeros(n), randn(m, n), reshape(x, m, n)), bounded so
  /// that products cannot overflow.
  mutating func size(
    _ e: Expr, what: String = "a size", in context: ElaborationContext
  ) throws(Poisoned) -> Int {
    let n = try integer(e, what: what, positive: true, in: context)
    if n > options.maximumTensorElements {
      throw error(.tooLarge(what, "\(n)", limit: "\(options.maximumTensorElements)"), at: e.range)
    }
    return n
  }

  mutating func shape(
    _ sizes: [Expr], at range: SourceRange, in context: ElaborationContext
  ) throws(Poisoned) -> Shape {
    var dims: [Int] = []
    for s in sizes { dims.append(try size(s, in: context)) }
    if dims.count > 2 {
      throw error(
        .shapeMismatch("values have at most two axes, given \(dims.count) sizes"), at: range)
    }
    let count = dims.reduce(1, *)
    if count > options.maximumTensorElements {
      throw error(
        .tooLarge("this value", "\(count)", limit: "\(options.maximumTensorElements)"), at: range)
    }
    return Shape(dims)
  }
}
