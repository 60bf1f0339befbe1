/// Dense LU factorization with partial pivoting, P·A = L·U, of a row-major
/// n×n matrix, and solves with the factors.
///
/// Recursive over columns (Toledo's, as ReLAPACK's dgetrf): factor the
/// left half of the columns, solve U₁₂ = L₁₁⁻¹·A₁₂, update A₂₂ -= L₂₁·U₁₂
/// (one GEMM, as deep as the left half), factor the right half. Panels of
/// at most `leafSize` columns run as row-wise rank-1 updates. Row swaps
/// exchange whole rows, which row-major storage makes contiguous. The
/// serial code around `GEMM.multiply` fixes every sum's order, so the
/// factors do not depend on the thread count.
public enum LU {
  /// Panels this narrow are factored column by column.
  static let leafSize = 16

  /// Doubles of workspace `factor` needs.
  public static func workspaceSize(n: Int) -> Int {
    n <= leafSize ? 0 : GEMM.workspaceSize(m: n, n: (n + 1) / 2, k: n)
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
  /// `threads` caps the GEMMs' threads (nil: by size); the bits are the
  /// same for every value.
  public static func factor(
    n: Int, a: UnsafeMutablePointer<Double>, lda: Int, pivots: UnsafeMutablePointer<Int>,
    workspace: UnsafeMutablePointer<Double>, threads: Int? = nil
  ) -> FactorizationStatus {
    if let bad = factorColumns(
      n: n, k: 0, w: n, a: a, lda: lda, pivots: pivots, workspace: workspace, threads: threads)
    {
      return .singular(index: bad)
    }
    return .success
  }

  /// Factors columns k..<k+w over rows k..<n, whose updates from columns
  /// before k are applied; returns the singular column, if any.
  static func factorColumns(
    n: Int, k: Int, w: Int, a: UnsafeMutablePointer<Double>, lda: Int,
    pivots: UnsafeMutablePointer<Int>, workspace: UnsafeMutablePointer<Double>, threads: Int?
  ) -> Int? {
    if w <= leafSize { return factorPanel(n: n, k: k, kb: w, a: a, lda: lda, pivots: pivots) }
    let w1 = recursionSplit(w), w2 = w - w1
    if let bad = factorColumns(
      n: n, k: k, w: w1, a: a, lda: lda, pivots: pivots, workspace: workspace, threads: threads)
    {
      return bad
    }
    // U₁₂ = L₁₁⁻¹·A₁₂ (L₁₁ unit lower, w1 rows), then A₂₂ -= L₂₁·U₁₂.
    let a11 = a + k * lda + k
    TriangularSolve.lower(
      w1, w2, a11, lda, unit: true, a11 + w1, lda, workspace: workspace, threads: threads)
    GEMM.multiply(
      m: n - k - w1, n: w2, k: w1, alpha: -1, a: a11 + w1 * lda, lda: lda, b: a11 + w1, ldb: lda,
      beta: 1, c: a11 + w1 * lda + w1, ldc: lda, workspace: workspace, threads: threads)
    return factorColumns(
      n: n, k: k + w1, w: w2, a: a, lda: lda, pivots: pivots, workspace: workspace,
      threads: threads)
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
