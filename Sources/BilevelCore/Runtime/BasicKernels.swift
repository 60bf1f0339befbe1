import Foundation

/// Straightforward kernels on raw pointers for the ops the tuned kernels
/// (Kernels/: GEMM, GEMV, dot) do not cover.
enum BasicKernels {
  /// X = A⁻¹ B by LU with partial pivoting; workspace holds n² + n doubles.
  /// A singular A gives non-finite entries, which the caller reports.
  static func solve(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ x: UnsafeMutablePointer<Double>,
                    n: Int, columns r: Int, workspace: UnsafeMutablePointer<Double>) {
    let lu = workspace
    lu.update(from: a, count: n * n)
    x.update(from: b, count: n * r)
    for col in 0..<n {
      var pivot = col
      for row in (col + 1)..<max(col + 1, n) where Swift.abs(lu[row * n + col]) > Swift.abs(lu[pivot * n + col]) { pivot = row }
      if pivot != col {
        for j in 0..<n { swap(&lu[col * n + j], &lu[pivot * n + j]) }
        for j in 0..<r { swap(&x[col * r + j], &x[pivot * r + j]) }
      }
      let p = lu[col * n + col]
      for row in (col + 1)..<max(col + 1, n) {
        let f = lu[row * n + col] / p
        if f == 0 { continue }
        for j in col..<n { lu[row * n + j] -= f * lu[col * n + j] }
        for j in 0..<r { x[row * r + j] -= f * x[col * r + j] }
      }
    }
    for col in stride(from: n - 1, through: 0, by: -1) {
      for j in 0..<r {
        var s = x[col * r + j]
        for q in (col + 1)..<max(col + 1, n) { s -= lu[col * n + q] * x[q * r + j] }
        x[col * r + j] = s / lu[col * n + col]
      }
    }
  }

  /// axis 0: everything; 1: over rows (one result per column); 2: over columns.
  static func reduce(_ r: Reduction, axis: Int, _ x: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>,
                     rows: Int, columns: Int) {
    switch axis {
    case 0: out[0] = fold(r, x, count: rows * columns, stride: 1)
    case 1: for j in 0..<columns { out[j] = fold(r, x + j, count: rows, stride: columns) }
    default: for i in 0..<rows { out[i] = fold(r, x + i * columns, count: columns, stride: 1) }
    }
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
    case .logsumexp:
      var m = -Double.infinity
      for t in 0..<count { m = Swift.max(m, x[t * stride]) }
      if !m.isFinite { return m }
      var s = 0.0
      for t in 0..<count { s += Foundation.exp(x[t * stride] - m) }
      return m + Foundation.log(s)
    case .norm:
      var s = 0.0
      for t in 0..<count { s += x[t * stride] * x[t * stride] }
      return s.squareRoot()
    }
  }

  static func softmax(_ x: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>, rows: Int, columns: Int, log: Bool) {
    for i in 0..<rows {
      let row = x + i * columns
      let lse = fold(.logsumexp, row, count: columns, stride: 1)
      for j in 0..<columns { out[i * columns + j] = log ? row[j] - lse : Foundation.exp(row[j] - lse) }
    }
  }
}
