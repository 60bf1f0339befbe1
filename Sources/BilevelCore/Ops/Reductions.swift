import Foundation

public enum Reduction: String, Hashable, Sendable, CaseIterable {
  case sum, mean, max, logsumexp, norm

  /// Folds entries; logsumexp shifts by the maximum so it never overflows.
  public func fold(_ xs: [Double]) -> Double {
    switch self {
    case .sum: return xs.reduce(0, +)
    case .mean: return xs.reduce(0, +) / Double(xs.count)
    case .max: return xs.reduce(-Double.infinity) { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
    case .logsumexp:
      let m = xs.reduce(-Double.infinity) { Swift.max($0, $1) }
      if !m.isFinite { return m }
      return m + Foundation.log(xs.reduce(0) { $0 + Foundation.exp($1 - m) })
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
    return Tensor(shape: shape, scalars: (0..<x.shape.columns).map { j in r.fold((0..<x.shape.rows).map { x[$0, j] }) })
  default:
    return Tensor(shape: shape, scalars: (0..<x.shape.rows).map { i in r.fold((0..<x.shape.columns).map { x[i, $0] }) })
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
    for k in 0..<width { out[start + k] = log ? row[k] - lse : Foundation.exp(row[k] - lse) }
    start += width
  }
  return Tensor(shape: x.shape, scalars: out)
}
