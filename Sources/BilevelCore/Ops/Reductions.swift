import BilevelVectorMath
import Foundation

public enum Reduction: String, Hashable, Sendable, CaseIterable {
  case sum, mean, max, min, logsumexp, norm

  /// One line for the reference (`bilevelc help functions`).
  public var doc: String {
    switch self {
    case .sum: return "sum of the entries"
    case .mean: return "mean of the entries"
    case .max: return "largest entry"
    case .min: return "smallest entry"
    case .logsumexp: return "log Σ eˣ, shifted by the maximum so it never overflows"
    case .norm: return "Euclidean norm √Σx²"
    }
  }

  /// The entrywise function the two-argument call names: max(a, b), min(a, b).
  public var entrywise: BinaryFunction? {
    switch self {
    case .max: return .maximum
    case .min: return .minimum
    case .sum, .mean, .logsumexp, .norm: return nil
    }
  }

  /// The derivative taken where the reduction has a kink (nil: smooth).
  public var kinkConvention: String? {
    switch self {
    case .max: return "at ties the gradient is split evenly among the maximal entries"
    case .min: return "at ties the gradient is split evenly among the minimal entries"
    case .norm: return "norm′(0) = 0"
    case .sum, .mean, .logsumexp: return nil
    }
  }

  /// Folds entries; logsumexp shifts by the maximum so it never overflows.
  public func fold(_ xs: [Double]) -> Double {
    switch self {
    case .sum: return xs.reduce(0, +)
    case .mean: return xs.reduce(0, +) / Double(xs.count)
    case .max:
      return xs.reduce(-Double.infinity) { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
    case .min: return xs.reduce(Double.infinity) { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
    case .logsumexp:
      let m = xs.reduce(-Double.infinity) { Swift.max($0, $1) }
      if !m.isFinite { return m }
      return m + VectorMath.log(xs.reduce(0) { $0 + VectorMath.exp($1 - m) })
    case .norm: return xs.reduce(0) { $0 + $1 * $1 }.squareRoot()
    }
  }
}

func reductionShape(_ x: Shape, _ axis: Axis) throws(ShapeError) -> Shape {
  switch (axis, x.rank) {
  case (.all, _): return .scalar
  case (_, 0): throw ShapeError("a scalar has no axis to reduce")
  case (.rows, 1): return .scalar
  case (.columns, 1): throw ShapeError("a vector has only axis 0, not axis 1")
  case (.rows, _): return .vector(x.columns)
  case (.columns, _): return .vector(x.rows)
  }
}

func evaluateReduction(_ r: Reduction, _ axis: Axis, _ x: Tensor, shape: Shape) -> Tensor {
  switch (axis, x.shape.rank) {
  case (.all, _), (.rows, 1):
    return Tensor(r.fold(x.scalars))
  case (.rows, _):
    return Tensor(
      shape: shape,
      scalars: (0..<x.shape.columns).map { j in r.fold((0..<x.shape.rows).map { x[$0, j] }) })
  default:
    return Tensor(
      shape: shape,
      scalars: (0..<x.shape.rows).map { i in r.fold((0..<x.shape.columns).map { x[i, $0] }) })
  }
}

/// 1-based index of the first largest entry (the language indexes from 1);
/// NaN when the entries include NaN, as max gives.
func argmaxIndex(_ xs: [Double]) -> Double {
  var best = 0
  for (k, v) in xs.enumerated() {
    if v.isNaN { return .nan }
    if v > xs[best] { best = k }
  }
  return Double(best + 1)
}

func evaluateArgmax(_ axis: Axis, _ x: Tensor, shape: Shape) -> Tensor {
  switch (axis, x.shape.rank) {
  case (.all, _), (.rows, 1):
    // A matrix's entries in row-major order: the flat index.
    return Tensor(argmaxIndex(x.scalars))
  case (.rows, _):
    return Tensor(
      shape: shape,
      scalars: (0..<x.shape.columns).map { j in argmaxIndex((0..<x.shape.rows).map { x[$0, j] }) })
  default:
    return Tensor(
      shape: shape,
      scalars: (0..<x.shape.rows).map { i in argmaxIndex((0..<x.shape.columns).map { x[i, $0] }) })
  }
}

/// softmax and log_softmax, row by row on matrices; shifted by the row
/// maximum so large logits do not overflow.
func evaluateSoftmax(log: Bool, _ x: Tensor) -> Tensor {
  let width = x.shape.isMatrix ? x.shape.columns : x.shape.count
  var out = x.scalars
  var start = 0
  while start < out.count {
    let row = Array(x.scalars[start..<(start + width)])
    let lse = Reduction.logsumexp.fold(row)
    for k in 0..<width { out[start + k] = log ? row[k] - lse : VectorMath.exp(row[k] - lse) }
    start += width
  }
  return Tensor(shape: x.shape, scalars: out)
}

// MARK: Derivative rules

extension Reduction {
  /// y = r(x) along `axis`. At ties, max (min) splits the gradient evenly among
  /// the maximal (minimal) entries; norm'(0) is taken as 0.
  func jvp(_ b: inout Rewriter, _ node: Node, _ id: NodeID, _ t: NodeID, _ axis: Axis) -> NodeID {
    let x = node.inputs[0]
    let shape = b.graph.shape(x)
    switch self {
    case .sum, .mean: return b.reduce(self, axis, t)
    case .max, .min:
      let mask = extremeMask(&b, x, id, axis, shape)
      return b.divide(b.reduce(.sum, axis, b.multiply(mask, t)), b.reduce(.sum, axis, mask))
    case .logsumexp:
      return b.reduce(.sum, axis, b.multiply(softmaxWeights(&b, x, id, axis, shape), t))
    case .norm:
      return b.divide(b.reduce(.sum, axis, b.multiply(x, t)), b.guardedDenominator(id))
    }
  }

  func vjp(_ b: inout Rewriter, _ node: Node, _ id: NodeID, _ g: NodeID, _ axis: Axis) -> NodeID {
    let x = node.inputs[0]
    let shape = b.graph.shape(x)
    switch self {
    case .sum: return b.expand(g, along: axis, to: shape)
    case .mean:
      let n = Double(shape.count / Swift.max(1, node.shape.count))
      return b.expand(b.divide(g, b.scalar(n)), along: axis, to: shape)
    case .max, .min:
      let mask = extremeMask(&b, x, id, axis, shape)
      return b.multiply(
        b.expand(b.divide(g, b.reduce(.sum, axis, mask)), along: axis, to: shape), mask)
    case .logsumexp:
      return b.multiply(b.expand(g, along: axis, to: shape), softmaxWeights(&b, x, id, axis, shape))
    case .norm:
      return b.multiply(b.expand(b.divide(g, b.guardedDenominator(id)), along: axis, to: shape), x)
    }
  }

  /// 1 where x attains its maximum (minimum), else 0: 1 − sign(max − x),
  /// as max − x ≥ 0 (1 − sign(x − min) for min).
  func extremeMask(
    _ b: inout Rewriter, _ x: NodeID, _ y: NodeID, _ axis: Axis, _ shape: Shape
  ) -> NodeID {
    let y = b.expand(y, along: axis, to: shape)
    return b.subtract(
      b.scalar(1), b.apply(.sign, self == .min ? b.subtract(x, y) : b.subtract(y, x)))
  }

  /// exp(x − logsumexp(x)): never overflows, as x − lse ≤ 0.
  func softmaxWeights(
    _ b: inout Rewriter, _ x: NodeID, _ y: NodeID, _ axis: Axis, _ shape: Shape
  ) -> NodeID {
    b.apply(.exp, b.subtract(x, b.expand(y, along: axis, to: shape)))
  }
}

/// softmax: dy = y ⊙ (dx − rowsum(y ⊙ dx)); log_softmax: dy = dx − rowsum(p ⊙ dx), p = softmax(x).
func softmaxJVP(_ b: inout Rewriter, log: Bool, _ node: Node, _ id: NodeID, _ t: NodeID) -> NodeID {
  let shape = node.shape
  let axis = Rewriter.softmaxAxis(shape)
  let p = log ? b.node(.softmax, [node.inputs[0]]) : id
  let centred = b.subtract(
    t, b.expand(b.reduce(.sum, axis, b.multiply(p, t)), along: axis, to: shape))
  return log ? centred : b.multiply(p, centred)
}

func softmaxVJP(_ b: inout Rewriter, log: Bool, _ node: Node, _ id: NodeID, _ g: NodeID) -> NodeID {
  let shape = node.shape
  let axis = Rewriter.softmaxAxis(shape)
  if log {
    let p = b.node(.softmax, [node.inputs[0]])
    return b.subtract(g, b.multiply(p, b.expand(b.reduce(.sum, axis, g), along: axis, to: shape)))
  }
  return b.multiply(
    id, b.subtract(g, b.expand(b.reduce(.sum, axis, b.multiply(g, id)), along: axis, to: shape)))
}
