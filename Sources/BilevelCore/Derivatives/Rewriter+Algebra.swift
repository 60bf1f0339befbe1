/// Named constructors so derivative rules read like the math they state.
/// Everything goes through the rewriter, so rule output is simplified as it
/// is built (x * 1 → x, 0 + x → x, ...).
extension Rewriter {
  public mutating func scalar(_ v: Double) -> NodeID { graph.constant(v) }
  public mutating func zeros(_ shape: Shape) -> NodeID { graph.constant(0, shape: shape) }
  public mutating func add(_ a: NodeID, _ b: NodeID) -> NodeID { node(.binary(.add), [a, b]) }
  public mutating func subtract(_ a: NodeID, _ b: NodeID) -> NodeID {
    node(.binary(.subtract), [a, b])
  }
  public mutating func multiply(_ a: NodeID, _ b: NodeID) -> NodeID {
    node(.binary(.multiply), [a, b])
  }
  public mutating func divide(_ a: NodeID, _ b: NodeID) -> NodeID {
    node(.binary(.divide), [a, b])
  }
  public mutating func power(_ a: NodeID, _ b: NodeID) -> NodeID { node(.binary(.power), [a, b]) }
  public mutating func negate(_ a: NodeID) -> NodeID { node(.unary(.negate), [a]) }
  public mutating func apply(_ f: UnaryFunction, _ a: NodeID) -> NodeID { node(.unary(f), [a]) }
  public mutating func transpose(_ a: NodeID) -> NodeID { node(.transpose, [a]) }
  public mutating func reshape(_ a: NodeID, _ shape: Shape) -> NodeID {
    node(.reshape, [a], shape: shape)
  }
  public mutating func reduce(_ r: Reduction, _ axis: Axis, _ a: NodeID) -> NodeID {
    node(.reduce(r, axis), [a])
  }
  public mutating func matmul(
    _ a: NodeID, _ b: NodeID, _ tl: Bool = false, _ tr: Bool = false
  ) -> NodeID {
    node(.matmul(transposeLeft: tl, transposeRight: tr), [a, b])
  }

  /// 1 / x where x > 0 is guaranteed except at an exact 0, where the
  /// result's users multiply by 0: `x + (1 - step(x))` is exactly x for
  /// x > 0 and 1 at 0, so derivatives at kinks stay finite (sqrt at 0, norm
  /// at 0). Not `(x + 1) - step(x)`: that rounds x + 1, losing x's digits
  /// below ε (0 for x < 1.1e-16, so sqrt'(1e-20) was inf).
  public mutating func guardedDenominator(_ x: NodeID) -> NodeID {
    add(x, subtract(scalar(1), apply(.step, x)))
  }

  /// The adjoint of broadcasting: sums `g` over the axes along which a value
  /// of `shape` was repeated to reach g's shape.
  public mutating func sumTo(_ g: NodeID, _ shape: Shape) -> NodeID {
    let from = graph.shape(g)
    if from == shape { return g }
    let reduced: NodeID
    switch BroadcastRole.of(shape, in: from) {
    case .scalar?: reduced = reduce(.sum, .all, g)
    case .row?: reduced = reduce(.sum, .rows, g)
    case .column?: reduced = reduce(.sum, .columns, g)
    case .same?, nil: preconditionFailure("internal error: \(shape) does not broadcast to \(from)")
    }
    return reshape(reduced, shape)
  }

  /// The adjoint of a reduction along `axis`: `y` (the reduced shape)
  /// repeated back to `shape`, unambiguously by row or by column.
  public mutating func expand(_ y: NodeID, along axis: Axis, to shape: Shape) -> NodeID {
    switch axis {
    case .all: return broadcast(y, to: shape)
    case .rows where shape.isMatrix:
      return broadcast(reshape(y, .matrix(1, shape.columns)), to: shape)
    case .rows: return broadcast(y, to: shape)
    case .columns: return broadcast(reshape(y, .matrix(shape.rows, 1)), to: shape)
    }
  }

  /// The row-wise reduction softmax uses: whole vectors, each row of a matrix.
  static func softmaxAxis(_ shape: Shape) -> Axis { shape.isMatrix ? .columns : .all }
}
