import BilevelCore
import BilevelFrontEnd

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
  public static func assemble(
    n: Int, symmetric: Bool, column: (_ j: Int, _ out: inout [Double]) throws(SolverFault) -> Void
  ) throws(SolverFault) -> [Double] {
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

  /// Factorises A (row-major) with the blocked kernels `solve(...)` uses;
  /// nil when it is singular to working precision.
  public init?(_ a: [Double], n: Int, trySymmetric: Bool) {
    self.n = n
    if trySymmetric {
      var l = a
      var workspace = [Double](repeating: 0, count: max(1, Cholesky.workspaceSize(n: n)))
      let status = l.withUnsafeMutableBufferPointer { lp in
        workspace.withUnsafeMutableBufferPointer {
          Cholesky.factor(n: n, a: lp.baseAddress!, lda: n, workspace: $0.baseAddress!)
        }
      }
      if status == .success {
        factors = l
        pivots = []
        usedCholesky = true
        let d = (0..<n).map { abs(l[$0 * n + $0]) }
        pivotRange = (d.min() ?? 0, d.max() ?? 0)
        return
      }
    }
    var lu = a
    var piv = [Int](repeating: 0, count: n)
    var workspace = [Double](repeating: 0, count: max(1, LU.workspaceSize(n: n)))
    let status = lu.withUnsafeMutableBufferPointer { lp in
      piv.withUnsafeMutableBufferPointer { pp in
        workspace.withUnsafeMutableBufferPointer {
          LU.factor(
            n: n, a: lp.baseAddress!, lda: n, pivots: pp.baseAddress!, workspace: $0.baseAddress!)
        }
      }
    }
    guard status == .success else { return nil }
    factors = lu
    pivots = piv
    usedCholesky = false
    let d = (0..<n).map { abs(lu[$0 * n + $0]) }
    pivotRange = (d.min() ?? 0, d.max() ?? 0)
    if let small = d.min(), let large = d.max(), !(small > 1e-14 * large) { return nil }
  }

  public func solve(_ b: [Double]) -> [Double] {
    var x = b
    guard n > 0 else { return x }
    factors.withUnsafeBufferPointer { f in
      x.withUnsafeMutableBufferPointer { xp in
        if usedCholesky {
          Cholesky.solve(n: n, l: f.baseAddress!, ldl: n, b: xp.baseAddress!)
        } else {
          pivots.withUnsafeBufferPointer {
            LU.solve(n: n, lu: f.baseAddress!, lda: n, pivots: $0.baseAddress!, b: xp.baseAddress!)
          }
        }
      }
    }
    return x
  }
}
