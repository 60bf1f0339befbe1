/// Every operation of the IR. Each family keeps, side by side in its own
/// file, the shape rule, the reference kernel and (with the derivatives
/// stage) the derivative rules, so adding an op touches one place.
/// Switches over `Op` are exhaustive with no default case: a new op does not
/// build until every rule is given.
public enum Op: Hashable, Sendable {
  // Leaves.
  /// A number, filled to the node's shape.
  case constant(Double)
  /// A non-uniform constant tensor, stored in the graph's literal table.
  case literal(Int)
  /// An entry of the program's data table (fixed before solving).
  case data(Int)
  /// An inner or outer variable of the program.
  case variable(Int)
  /// A value supplied when the graph is evaluated: a direction `v` of a
  /// Hessian-vector product, a cotangent. Named in `Program.inputs`.
  case input(Int)

  case unary(UnaryFunction)
  case binary(BinaryFunction)

  // Structural (Structural.swift).
  /// Repeats a scalar or vector to the node's shape (see `BroadcastRole`).
  case broadcast
  case transpose
  /// Same entries in row-major order, the node's shape.
  case reshape
  case slice(SliceSpec)
  /// Joins vectors end to end, or matrices along `axis`.
  case concat(axis: Int)
  /// Vector → diagonal matrix, or square matrix → its diagonal.
  case diag

  // Linear algebra (LinearAlgebra.swift). Transposes are flags, never copies.
  case matmul(transposeLeft: Bool, transposeRight: Bool)
  /// solve(A, b) = A⁻¹ b for a square A and a vector or matrix b.
  case solve

  case reduce(Reduction, Axis)
  /// 1-based position of the first largest entry along an axis (Reductions.swift):
  /// piecewise constant, so its derivative is 0 and losses refuse it.
  case argmax(Axis)
  /// Row-wise on matrices, whole on vectors (Softmax.swift).
  case softmax
  case logSoftmax

  /// `mean over t: body` / `sum over t: body`: evaluates the body once per task.
  case taskReduce(Reduction)
}

/// Which axes a reduction folds away: all of them, or numpy's axis 0 / 1.
public enum Axis: Hashable, Sendable {
  case all
  /// Over rows: one result per column.
  case rows
  /// Over columns: one result per row.
  case columns
}

/// Where a node came from, for messages such as "derivative of ...".
public enum OpFamily: String, Sendable {
  case leaf, elementwise, structural, linearAlgebra, reduction, softmax, tasks
}

extension Op {
  public var family: OpFamily {
    switch self {
    case .constant, .literal, .data, .variable, .input: return .leaf
    case .unary, .binary: return .elementwise
    case .broadcast, .transpose, .reshape, .slice, .concat, .diag: return .structural
    case .matmul, .solve: return .linearAlgebra
    case .reduce, .argmax: return .reduction
    case .softmax, .logSoftmax: return .softmax
    case .taskReduce: return .tasks
    }
  }

  public var isLeaf: Bool { family == .leaf }

  /// The shape of this op applied to inputs of the given shapes. Ops whose
  /// result shape is not a function of their inputs (leaves, broadcast,
  /// reshape, slice) take it as `declared`.
  public func resultShape(_ inputs: [Shape], declared: Shape?) throws(ShapeError) -> Shape {
    switch self {
    case .constant, .literal, .data, .variable, .input:
      guard let declared else { throw ShapeError("a leaf needs a declared shape") }
      return declared
    case .unary: return inputs[0]
    case .binary: return try broadcastShape(inputs[0], inputs[1])
    case .broadcast, .transpose, .reshape, .slice, .concat, .diag:
      return try structuralShape(inputs, declared: declared)
    case .matmul(let tl, let tr):
      return try matmulShape(inputs[0], inputs[1], transposeLeft: tl, transposeRight: tr)
    case .solve: return try solveShape(inputs[0], inputs[1])
    case .reduce(_, let axis), .argmax(let axis): return try reductionShape(inputs[0], axis)
    case .softmax, .logSoftmax: return inputs[0]
    case .taskReduce: return inputs[0]
    }
  }

  /// Number of inputs the op takes; nil when variadic (concat).
  public var arity: Int? {
    switch self {
    case .constant, .literal, .data, .variable, .input: return 0
    case .unary, .broadcast, .transpose, .reshape, .slice, .diag, .reduce, .argmax, .softmax,
      .logSoftmax, .taskReduce:
      return 1
    case .binary, .matmul, .solve: return 2
    case .concat: return nil
    }
  }
}

/// A shape rule's complaint; the elaborator attaches the source range.
public struct ShapeError: Error, Sendable {
  public let message: String
  public init(_ message: String) { self.message = message }
}

extension Op {
  /// The reference kernel: the definition every faster path is tested
  /// against. Leaves and task reductions are the evaluator's business.
  public func evaluateReference(_ inputs: [Tensor], shape: Shape) -> Tensor {
    switch self {
    case .constant, .literal, .data, .variable, .input, .taskReduce:
      preconditionFailure("\(self) is evaluated by the evaluator, not as a kernel")
    case .unary(let f): return inputs[0].map(f.apply)
    case .binary(let f): return evaluateBinary(f, inputs[0], inputs[1], shape: shape)
    case .broadcast, .transpose, .reshape, .slice, .concat, .diag:
      return evaluateStructural(self, inputs, shape: shape)
    case .matmul(let tl, let tr):
      return evaluateMatmul(
        inputs[0], inputs[1], transposeLeft: tl, transposeRight: tr, shape: shape)
    case .solve: return evaluateSolve(inputs[0], inputs[1], shape: shape)
    case .reduce(let r, let axis): return evaluateReduction(r, axis, inputs[0], shape: shape)
    case .argmax(let axis): return evaluateArgmax(axis, inputs[0], shape: shape)
    case .softmax: return evaluateSoftmax(log: false, inputs[0])
    case .logSoftmax: return evaluateSoftmax(log: true, inputs[0])
    }
  }
}

// MARK: Derivative rules (dispatch to each family's rules)

extension Op {
  /// Forward mode: this node's tangent from its inputs' tangents (nil: zero;
  /// at least one is given). Built from graph ops, so it can be simplified,
  /// planned and differentiated again.
  func jvp(_ b: inout Rewriter, _ node: Node, _ id: NodeID, _ tangents: [NodeID?]) -> NodeID {
    switch self {
    case .constant, .literal, .data, .variable, .input:
      preconditionFailure("leaves have no derivative rule")
    case .unary(let f): return f.jvp(&b, node, id, tangents[0]!)
    case .binary(let f): return f.jvp(&b, node, id, tangents)
    case .broadcast, .transpose, .reshape, .slice, .concat, .diag:
      return structuralJVP(&b, node, tangents)
    case .matmul(let tl, let tr): return matmulJVP(&b, node, tangents, tl, tr)
    case .solve: return solveJVP(&b, node, id, tangents)
    case .reduce(let r, let axis): return r.jvp(&b, node, id, tangents[0]!, axis)
    case .argmax: return b.zeros(node.shape)
    case .softmax: return softmaxJVP(&b, log: false, node, id, tangents[0]!)
    case .logSoftmax: return softmaxJVP(&b, log: true, node, id, tangents[0]!)
    case .taskReduce: return b.node(self, [tangents[0]!])
    }
  }

  /// Reverse mode: the contribution of this node's cotangent `g` to input `k`.
  /// For a task mean the body's cotangent is g / M (tasks = M).
  func vjp(
    _ b: inout Rewriter, _ node: Node, _ id: NodeID, _ g: NodeID, input k: Int, tasks: Int
  ) -> NodeID {
    switch self {
    case .constant, .literal, .data, .variable, .input:
      preconditionFailure("leaves have no derivative rule")
    case .unary(let f): return f.vjp(&b, node, id, g)
    case .binary(let f): return f.vjp(&b, node, id, g, input: k)
    case .broadcast, .transpose, .reshape, .slice, .concat, .diag:
      return structuralVJP(&b, node, g, input: k)
    case .matmul(let tl, let tr): return matmulVJP(&b, node, g, input: k, tl, tr)
    case .solve: return solveVJP(&b, node, id, g, input: k)
    case .reduce(let r, let axis): return r.vjp(&b, node, id, g, axis)
    case .argmax: return b.zeros(b.graph.shape(node.inputs[0]))
    case .softmax: return softmaxVJP(&b, log: false, node, id, g)
    case .logSoftmax: return softmaxVJP(&b, log: true, node, id, g)
    case .taskReduce(let r): return r == .mean ? b.divide(g, b.scalar(Double(tasks))) : g
    }
  }
}

/// One name per kind of op, ignoring parameters: what per-op tests iterate
/// over. `Op.kind` is an exhaustive switch, so a new op needs a kind, and a
/// kind without a test fails the derivative suite.
public enum OpKind: String, CaseIterable, Sendable {
  case constant, literal, data, variable, input
  case unary, binary, broadcast, transpose, reshape, slice, concat, diag
  case matmul, solve, reduce, argmax, softmax, logSoftmax, taskReduce
}

/// Where an op's test inputs are drawn from: the derivative checks need
/// points where the function is smooth.
public enum TestDomain: Sendable {
  /// Any real number, kept away from kinks at 0.
  case real
  /// Strictly positive.
  case positive
}

extension Op {
  public var kind: OpKind {
    switch self {
    case .constant: return .constant
    case .literal: return .literal
    case .data: return .data
    case .variable: return .variable
    case .input: return .input
    case .unary: return .unary
    case .binary: return .binary
    case .broadcast: return .broadcast
    case .transpose: return .transpose
    case .reshape: return .reshape
    case .slice: return .slice
    case .concat: return .concat
    case .diag: return .diag
    case .matmul: return .matmul
    case .solve: return .solve
    case .reduce: return .reduce
    case .argmax: return .argmax
    case .softmax: return .softmax
    case .logSoftmax: return .logSoftmax
    case .taskReduce: return .taskReduce
    }
  }
}

extension UnaryFunction {
  public var testDomain: TestDomain { self == .log || self == .sqrt ? .positive : .real }
}

extension BinaryFunction {
  /// Domains of the two operands.
  public var testDomains: (TestDomain, TestDomain) {
    switch self {
    case .divide: return (.real, .positive)
    case .power: return (.positive, .real)
    default: return (.real, .real)
    }
  }
}
