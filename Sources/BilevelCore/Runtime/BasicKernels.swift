import BilevelVectorMath
import Foundation

/// Straightforward kernels on raw pointers for the ops the tuned kernels
/// (Kernels/: GEMM, GEMV, dot, LU) do not cover.
enum BasicKernels {
  /// Over everything, over rows (one result per column) or over columns (one per row).
  static func reduce(
    _ r: Reduction, axis: Axis, _ x: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>,
    rows: Int, columns: Int
  ) {
    switch axis {
    case .all: out[0] = fold(r, x, count: rows * columns, stride: 1)
    case .rows: for j in 0..<columns { out[j] = fold(r, x + j, count: rows, stride: columns) }
    case .columns:
      for i in 0..<rows { out[i] = fold(r, x + i * columns, count: columns, stride: 1) }
    }
  }

  static func argmax(
    axis: Axis, _ x: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>, rows: Int,
    columns: Int
  ) {
    switch axis {
    case .all: out[0] = firstLargest(x, count: rows * columns, stride: 1)
    case .rows: for j in 0..<columns { out[j] = firstLargest(x + j, count: rows, stride: columns) }
    case .columns:
      for i in 0..<rows { out[i] = firstLargest(x + i * columns, count: columns, stride: 1) }
    }
  }

  /// 1-based, as `argmaxIndex` (the reference): NaN if any entry is NaN.
  static func firstLargest(_ x: UnsafePointer<Double>, count: Int, stride: Int) -> Double {
    var best = 0
    for t in 0..<count {
      let v = x[t * stride]
      if v.isNaN { return .nan }
      if v > x[best * stride] { best = t }
    }
    return Double(best + 1)
  }

  @inline(__always)
  static func fold(_ r: Reduction, _ x: UnsafePointer<Double>, count: Int, stride: Int) -> Double {
    switch r {
    case .sum, .mean:
      var s = 0.0
      for t in 0..<count { s += x[t * stride] }
      return r == .mean ? s / Double(count) : s
    case .max:
      var m = -Double.infinity
      for t in 0..<count {
        let v = x[t * stride]
        if v.isNaN { return .nan }
        m = Swift.max(m, v)
      }
      return m
    case .min:
      var m = Double.infinity
      for t in 0..<count {
        let v = x[t * stride]
        if v.isNaN { return .nan }
        m = Swift.min(m, v)
      }
      return m
    case .logsumexp:
      var m = -Double.infinity
      for t in 0..<count { m = Swift.max(m, x[t * stride]) }
      if !m.isFinite { return m }
      var s = 0.0
      for t in 0..<count { s += VectorMath.exp(x[t * stride] - m) }
      return m + VectorMath.log(s)
    case .norm:
      var s = 0.0
      for t in 0..<count { s += x[t * stride] * x[t * stride] }
      return s.squareRoot()
    }
  }

  static func softmax(
    _ x: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>, rows: Int, columns: Int,
    log: Bool
  ) {
    for i in 0..<rows {
      let row = x + i * columns
      let lse = fold(.logsumexp, row, count: columns, stride: 1)
      for j in 0..<columns {
        out[i * columns + j] = log ? row[j] - lse : VectorMath.exp(row[j] - lse)
      }
    }
  }
}
