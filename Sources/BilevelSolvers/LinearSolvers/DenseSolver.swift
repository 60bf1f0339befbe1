/// A dense n×n system built column by column from matrix-vector products,
/// factorised once (Cholesky when symmetric positive definite, otherwise
/// LU with partial pivoting) and solved for any right-hand side. For
/// `implicit(exact)` and `closed_form`, where d is small.
public struct DenseSolver: Sendable {
  public let n: Int
  /// Row-major factors: L (Cholesky, lower) or the packed LU.
  var factors: [Double]
  var pivots: [Int]
  public let usedCholesky: Bool
  /// The smallest and largest |pivot|, a cheap conditioning hint.
  public let pivotRange: (Double, Double)

  /// Forms A from its columns A e_j, symmetrising when asked (a Hessian
  /// assembled from products is symmetric only to rounding).
  public static func assemble(n: Int, symmetric: Bool, column: (_ j: Int, _ out: inout [Double]) throws(SolverFault) -> Void) throws(SolverFault) -> [Double] {
    var a = [Double](repeating: 0, count: n * n)
    var c = [Double](repeating: 0, count: n)
    for j in 0..<n {
      try column(j, &c)
      for i in 0..<n { a[i * n + j] = c[i] }
    }
    if symmetric {
      for i in 0..<n {
        for j in (i + 1)..<max(i + 1, n) {
          let m = 0.5 * (a[i * n + j] + a[j * n + i])
          a[i * n + j] = m
          a[j * n + i] = m
        }
      }
    }
    return a
  }

  /// Factorises A (row-major); nil when it is singular to working precision.
  public init?(_ a: [Double], n: Int, trySymmetric: Bool) {
    self.n = n
    if trySymmetric, let l = DenseSolver.cholesky(a, n) {
      factors = l
      pivots = []
      usedCholesky = true
      let d = (0..<n).map { abs(l[$0 * n + $0]) }
      pivotRange = (d.min() ?? 0, d.max() ?? 0)
      return
    }
    var lu = a
    var piv = Array(0..<n)
    for k in 0..<n {
      var p = k
      for i in (k + 1)..<max(k + 1, n) where abs(lu[i * n + k]) > abs(lu[p * n + k]) { p = i }
      if lu[p * n + k] == 0 || !lu[p * n + k].isFinite { return nil }
      if p != k {
        for j in 0..<n { lu.swapAt(k * n + j, p * n + j) }
        piv.swapAt(k, p)
      }
      let pivot = lu[k * n + k]
      for i in (k + 1)..<max(k + 1, n) {
        let f = lu[i * n + k] / pivot
        lu[i * n + k] = f
        if f != 0 { for j in (k + 1)..<n { lu[i * n + j] -= f * lu[k * n + j] } }
      }
    }
    factors = lu
    pivots = piv
    usedCholesky = false
    let d = (0..<n).map { abs(lu[$0 * n + $0]) }
    pivotRange = (d.min() ?? 0, d.max() ?? 0)
    if let small = d.min(), let large = d.max(), small <= 1e-14 * large { return nil }
  }

  static func cholesky(_ a: [Double], _ n: Int) -> [Double]? {
    var l = [Double](repeating: 0, count: n * n)
    for j in 0..<n {
      var s = a[j * n + j]
      for k in 0..<j { s -= l[j * n + k] * l[j * n + k] }
      guard s > 0, s.isFinite else { return nil }
      let d = s.squareRoot()
      l[j * n + j] = d
      for i in (j + 1)..<max(j + 1, n) {
        var t = a[i * n + j]
        for k in 0..<j { t -= l[i * n + k] * l[j * n + k] }
        l[i * n + j] = t / d
      }
    }
    return l
  }

  public func solve(_ b: [Double]) -> [Double] {
    var x: [Double]
    if usedCholesky {
      x = b
      for i in 0..<n {
        var s = x[i]
        for k in 0..<i { s -= factors[i * n + k] * x[k] }
        x[i] = s / factors[i * n + i]
      }
      for i in stride(from: n - 1, through: 0, by: -1) {
        var s = x[i]
        for k in (i + 1)..<max(i + 1, n) { s -= factors[k * n + i] * x[k] }
        x[i] = s / factors[i * n + i]
      }
    } else {
      x = pivots.map { b[$0] }
      for i in 0..<n {
        var s = x[i]
        for k in 0..<i { s -= factors[i * n + k] * x[k] }
        x[i] = s
      }
      for i in stride(from: n - 1, through: 0, by: -1) {
        var s = x[i]
        for k in (i + 1)..<max(i + 1, n) { s -= factors[i * n + k] * x[k] }
        x[i] = s / factors[i * n + i]
      }
    }
    return x
  }
}
