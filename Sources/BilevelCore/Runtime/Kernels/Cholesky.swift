/// Outcome of a dense factorization.
public enum FactorizationStatus: Equatable, Sendable {
  case success
  /// Cholesky: the pivot of row `index` (0-based) was not positive and
  /// finite, so the matrix is not (numerically) positive definite. Rows
  /// before `index` hold a valid partial factor.
  case nonPositivePivot(index: Int)
  /// LU: column `index` (0-based) had no nonzero pivot candidate, so the
  /// matrix is singular. Columns before `index` are factored.
  case singular(index: Int)
}

/// Dense Cholesky factorization A = L·Lᵀ of a symmetric positive definite
/// row-major n×n matrix, and solves with the factor.
///
/// Left-looking by blocks of `TriangularSolve.blockSize` rows: for each
/// block the updates from all earlier columns are GEMMs (where nearly all
/// the flops go), and only the small diagonal block and the triangular
/// solve of the panel below it run as row-wise dot products, which read the
/// row-major factor at unit stride.
public enum Cholesky {
  /// Doubles of workspace `factor` needs.
  public static func workspaceSize(n: Int) -> Int {
    let nb = TriangularSolve.blockSize
    if n <= nb { return 0 }
    return nb * nb + GEMM.workspaceSize(m: n, n: nb, k: n)
  }

  /// Doubles of workspace the matrix `solve` needs for `rhs` columns.
  public static func solveWorkspaceSize(n: Int, rhs: Int) -> Int {
    TriangularSolve.workspaceSize(n: n, r: rhs)
  }

  /// Overwrites the lower triangle of `a` (n×n, leading dimension lda) with
  /// L; reads only the lower triangle and never writes the strict upper
  /// one. Allocates nothing; `workspace` holds `workspaceSize(n:)` doubles.
  public static func factor(
    n: Int, a: UnsafeMutablePointer<Double>, lda: Int, workspace: UnsafeMutablePointer<Double>
  ) -> FactorizationStatus {
    let nb = TriangularSolve.blockSize
    let tile = workspace
    let gemmSpace = workspace + nb * nb
    var k = 0
    while k < n {
      let kb = min(nb, n - k)
      let diagonal = a + k * lda + k
      if k > 0 {
        // Diagonal block: A₁₁ -= L₁₀·L₁₀ᵀ, through a scratch tile so the
        // strict upper triangle of A stays untouched.
        GEMM.multiply(
          m: kb, n: kb, k: k, a: a + k * lda, lda: lda, b: a + k * lda, ldb: lda, transposeB: true,
          c: tile, ldc: kb, workspace: gemmSpace)
        for i in 0..<kb {
          for j in 0...i { diagonal[i * lda + j] -= tile[i * kb + j] }
        }
      }
      if let bad = factorDiagonalBlock(kb, diagonal, lda) {
        return .nonPositivePivot(index: k + bad)
      }
      let below = n - k - kb
      if below > 0 {
        let panel = a + (k + kb) * lda + k
        if k > 0 {
          // Panel: A₂₁ -= L₂₀·L₁₀ᵀ.
          GEMM.multiply(
            m: below, n: kb, k: k, alpha: -1, a: a + (k + kb) * lda, lda: lda,
            b: a + k * lda, ldb: lda, transposeB: true, beta: 1, c: panel, ldc: lda,
            workspace: gemmSpace)
        }
        // L₂₁ = A₂₁·L₁₁⁻ᵀ, one row at a time (a lower solve per row).
        for i in 0..<below {
          let row = panel + i * lda
          for j in 0..<kb {
            let lj = diagonal + j * lda
            row[j] = (row[j] - VectorKernels.dot(j, row, lj)) / lj[j]
          }
        }
      }
      k += kb
    }
    return .success
  }

  /// Unblocked dot-product (Cholesky–Crout) form on one diagonal block
  /// whose earlier-column updates are already applied; returns the failing
  /// row within the block.
  static func factorDiagonalBlock(_ n: Int, _ a: UnsafeMutablePointer<Double>, _ lda: Int) -> Int? {
    for i in 0..<n {
      let ri = a + i * lda
      for j in 0..<i {
        let rj = a + j * lda
        ri[j] = (ri[j] - VectorKernels.dot(j, ri, rj)) / rj[j]
      }
      let d = ri[i] - VectorKernels.dot(i, ri, ri)
      if !(d > 0) || !d.isFinite { return i }
      ri[i] = d.squareRoot()
    }
    return nil
  }

  /// Solves (L·Lᵀ)·x = b in place for a vector b, with L from `factor`.
  public static func solve(
    n: Int, l: UnsafePointer<Double>, ldl: Int, b: UnsafeMutablePointer<Double>
  ) {
    TriangularSolve.lower(n, l, ldl, unit: false, b)
    TriangularSolve.lowerTransposed(n, l, ldl, unit: false, b)
  }

  /// Solves (L·Lᵀ)·X = B in place for an n×rhs matrix B (leading
  /// dimension ldb); `workspace` holds `solveWorkspaceSize(n:rhs:)` doubles.
  public static func solve(
    n: Int, rhs: Int, l: UnsafePointer<Double>, ldl: Int, b: UnsafeMutablePointer<Double>, ldb: Int,
    workspace: UnsafeMutablePointer<Double>
  ) {
    TriangularSolve.lower(n, rhs, l, ldl, unit: false, b, ldb, workspace: workspace)
    TriangularSolve.lowerTransposed(n, rhs, l, ldl, unit: false, b, ldb, workspace: workspace)
  }
}
