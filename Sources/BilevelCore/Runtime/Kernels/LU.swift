/// Dense LU factorization with partial pivoting, P·A = L·U, of a row-major
/// n×n matrix, and solves with the factors.
///
/// Right-looking by panels of `TriangularSolve.blockSize` columns (as
/// LAPACK's dgetrf): the panel is factored with row-wise rank-1 updates,
/// the block row of U is a unit-lower solve, and the trailing matrix gets
/// one GEMM per panel, where nearly all the flops go. Row swaps exchange
/// whole rows, which row-major storage makes contiguous.
public enum LU {
  /// Doubles of workspace `factor` needs.
  public static func workspaceSize(n: Int) -> Int {
    let nb = TriangularSolve.blockSize
    return n <= nb ? 0 : GEMM.workspaceSize(m: n, n: n, k: nb)
  }

  /// Doubles of workspace the matrix `solve` needs for `rhs` columns.
  public static func solveWorkspaceSize(n: Int, rhs: Int) -> Int {
    TriangularSolve.workspaceSize(n: n, r: rhs)
  }

  /// Overwrites `a` with L (strictly lower, unit diagonal implied) and U
  /// (upper). `pivots[i]` is the row exchanged with row i at step i
  /// (0-based, applied in increasing i; LAPACK's ipiv minus one). The pivot
  /// is the first entry of largest magnitude, so ties break the same way
  /// every time. Stops at the first column without a nonzero pivot.
  public static func factor(
    n: Int, a: UnsafeMutablePointer<Double>, lda: Int, pivots: UnsafeMutablePointer<Int>,
    workspace: UnsafeMutablePointer<Double>
  ) -> FactorizationStatus {
    let nb = TriangularSolve.blockSize
    var k = 0
    while k < n {
      let kb = min(nb, n - k)
      if let bad = factorPanel(n: n, k: k, kb: kb, a: a, lda: lda, pivots: pivots) {
        return .singular(index: bad)
      }
      let right = n - k - kb
      if right > 0 {
        // U₁₂ = L₁₁⁻¹·A₁₂ (L₁₁ unit lower, kb rows).
        let a12 = a + k * lda + k + kb
        for i in 1..<max(1, kb) {
          let li = a + (k + i) * lda + k
          for j in 0..<i { VectorKernels.axpy(right, -li[j], a12 + j * lda, a12 + i * lda) }
        }
        // A₂₂ -= L₂₁·U₁₂.
        let below = n - k - kb
        GEMM.multiply(
          m: below, n: right, k: kb, alpha: -1, a: a + (k + kb) * lda + k, lda: lda,
          b: a12, ldb: lda, beta: 1, c: a + (k + kb) * lda + k + kb, ldc: lda,
          workspace: workspace)
      }
      k += kb
    }
    return .success
  }

  /// Factors columns k..<k+kb over rows k..<n, updating only inside the
  /// panel; returns the singular column, if any.
  static func factorPanel(
    n: Int, k: Int, kb: Int, a: UnsafeMutablePointer<Double>, lda: Int,
    pivots: UnsafeMutablePointer<Int>
  ) -> Int? {
    for j in k..<(k + kb) {
      var p = j
      var best = abs(a[j * lda + j])
      for i in (j + 1)..<max(j + 1, n) {
        let v = abs(a[i * lda + j])
        if v > best {
          best = v
          p = i
        }
      }
      pivots[j] = p
      if !(best > 0) { return j }
      if p != j { swapRows(a + j * lda, a + p * lda, n) }
      let rj = a + j * lda
      let pivot = rj[j]
      let width = k + kb - j - 1
      for i in (j + 1)..<max(j + 1, n) {
        let ri = a + i * lda
        let l = ri[j] / pivot
        ri[j] = l
        VectorKernels.axpy(width, -l, rj + j + 1, ri + j + 1)
      }
    }
    return nil
  }

  @inline(__always)
  static func swapRows(
    _ x: UnsafeMutablePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ n: Int
  ) {
    for j in 0..<n {
      let t = x[j]
      x[j] = y[j]
      y[j] = t
    }
  }

  @inline(__always)
  static func swapEntries(_ b: UnsafeMutablePointer<Double>, _ i: Int, _ j: Int) {
    let t = b[i]
    b[i] = b[j]
    b[j] = t
  }

  /// Solves A·x = b in place for a vector b, with the output of `factor`.
  public static func solve(
    n: Int, lu: UnsafePointer<Double>, lda: Int, pivots: UnsafePointer<Int>,
    b: UnsafeMutablePointer<Double>
  ) {
    for i in 0..<n where pivots[i] != i { swapEntries(b, i, pivots[i]) }
    TriangularSolve.lower(n, lu, lda, unit: true, b)
    TriangularSolve.upper(n, lu, lda, b)
  }

  /// Solves Aᵀ·x = b in place (the adjoint system a reverse-mode `solve`
  /// needs), with the output of `factor`: Uᵀ·Lᵀ·(P·x) = b.
  public static func solveTransposed(
    n: Int, lu: UnsafePointer<Double>, lda: Int, pivots: UnsafePointer<Int>,
    b: UnsafeMutablePointer<Double>
  ) {
    TriangularSolve.upperTransposed(n, lu, lda, b)
    TriangularSolve.lowerTransposed(n, lu, lda, unit: true, b)
    var i = n - 1
    while i >= 0 {
      if pivots[i] != i { swapEntries(b, i, pivots[i]) }
      i -= 1
    }
  }

  /// Solves A·X = B in place for an n×rhs matrix B (leading dimension
  /// ldb); `workspace` holds `solveWorkspaceSize(n:rhs:)` doubles.
  public static func solve(
    n: Int, rhs: Int, lu: UnsafePointer<Double>, lda: Int, pivots: UnsafePointer<Int>,
    b: UnsafeMutablePointer<Double>, ldb: Int, workspace: UnsafeMutablePointer<Double>
  ) {
    for i in 0..<n where pivots[i] != i { swapRows(b + i * ldb, b + pivots[i] * ldb, rhs) }
    TriangularSolve.lower(n, rhs, lu, lda, unit: true, b, ldb, workspace: workspace)
    TriangularSolve.upper(n, rhs, lu, lda, b, ldb, workspace: workspace)
  }
}
