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
/// Recursive (as ReLAPACK's and OpenBLAS's dpotrf): split A into halves,
/// factor A₁₁, solve L₂₁ = A₂₁·L₁₁⁻ᵀ, update A₂₂ -= L₂₁·L₂₁ᵀ, factor A₂₂.
/// The solve and the update recurse too, so nearly every flop is a GEMM
/// whose depth is half the current block (the top update is n/2 deep),
/// and only blocks of at most `leafSize` rows run as dot products.
/// Everything is serial code around `GEMM.multiply`, whose bits do not
/// depend on the thread count, so neither do the factor's.
public enum Cholesky {
  /// Diagonal blocks this small run the unblocked dot-product form.
  static let leafSize = 32
  /// Columns at which the panel solve stops recursing.
  static let solveLeafSize = 16
  /// Rows of the lower-triangle update's diagonal blocks, computed whole
  /// into a scratch tile (the strict upper triangle of A stays untouched).
  static let updateLeafSize = 64

  /// Doubles of workspace `factor` needs.
  public static func workspaceSize(n: Int) -> Int {
    if n <= leafSize { return 0 }
    return updateLeafSize * updateLeafSize + GEMM.workspaceSize(m: n, n: (n + 1) / 2, k: n)
  }

  /// Doubles of workspace the matrix `solve` needs for `rhs` columns.
  public static func solveWorkspaceSize(n: Int, rhs: Int) -> Int {
    TriangularSolve.workspaceSize(n: n, r: rhs)
  }

  /// Overwrites the lower triangle of `a` (n×n, leading dimension lda) with
  /// L; reads only the lower triangle and never writes the strict upper
  /// one. Allocates nothing; `workspace` holds `workspaceSize(n:)` doubles.
  /// `threads` caps the GEMMs' threads (nil: by size); the bits are the
  /// same for every value.
  public static func factor(
    n: Int, a: UnsafeMutablePointer<Double>, lda: Int, workspace: UnsafeMutablePointer<Double>,
    threads: Int? = nil
  ) -> FactorizationStatus {
    let space = Workspace(
      tile: workspace, gemm: workspace + updateLeafSize * updateLeafSize, threads: threads)
    if let bad = factorRecursive(n, a, lda, space) {
      return .nonPositivePivot(index: bad)
    }
    return .success
  }

  /// The scratch the recursion shares: the update's diagonal tile, the
  /// GEMMs' packing buffers and their thread cap.
  struct Workspace {
    var tile: UnsafeMutablePointer<Double>
    var gemm: UnsafeMutablePointer<Double>
    var threads: Int?
  }

  /// The first failing row, if any.
  static func factorRecursive(
    _ n: Int, _ a: UnsafeMutablePointer<Double>, _ lda: Int, _ space: Workspace
  ) -> Int? {
    if n <= leafSize { return factorDiagonalBlock(n, a, lda) }
    let n1 = recursionSplit(n), n2 = n - n1
    if let bad = factorRecursive(n1, a, lda, space) { return bad }
    let a21 = a + n1 * lda
    solveTransposedFromRight(rows: n2, n1, a, lda, a21, lda, space)
    subtractLowerGram(n2, k: n1, a21, lda, a21 + n1, lda, space)
    if let bad = factorRecursive(n2, a21 + n1, lda, space) {
      return n1 + bad
    }
    return nil
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

  /// X·Lᵀ = B in place (B rows×w, L w×w lower): B's row i is the solution
  /// of L·x = bᵢ. Splits L's columns: X₁ from L₁₁, B₂ -= X₁·L₂₁ᵀ (GEMM),
  /// then X₂ from L₂₂.
  static func solveTransposedFromRight(
    rows: Int, _ w: Int, _ l: UnsafePointer<Double>, _ ldl: Int,
    _ b: UnsafeMutablePointer<Double>, _ ldb: Int, _ space: Workspace
  ) {
    if w <= solveLeafSize {
      for i in 0..<rows {
        let row = b + i * ldb
        for j in 0..<w {
          let lj = l + j * ldl
          row[j] = (row[j] - VectorKernels.dot(j, row, lj)) / lj[j]
        }
      }
      return
    }
    let w1 = recursionSplit(w), w2 = w - w1
    solveTransposedFromRight(rows: rows, w1, l, ldl, b, ldb, space)
    GEMM.multiply(
      m: rows, n: w2, k: w1, alpha: -1, a: b, lda: ldb, b: l + w1 * ldl, ldb: ldl,
      transposeB: true, beta: 1, c: b + w1, ldc: ldb, workspace: space.gemm,
      threads: space.threads)
    solveTransposedFromRight(rows: rows, w2, l + w1 * ldl + w1, ldl, b + w1, ldb, space)
  }

  /// The lower triangle of C (m×m) -= A·Aᵀ (A m×k), touching nothing
  /// above C's diagonal: the off-diagonal half is one GEMM, the diagonal
  /// halves recurse down to `updateLeafSize`, whose whole product goes
  /// to `tile`. c − t has the bits of GEMM's alpha −1, beta 1 update.
  static func subtractLowerGram(
    _ m: Int, k: Int, _ a: UnsafePointer<Double>, _ lda: Int,
    _ c: UnsafeMutablePointer<Double>, _ ldc: Int, _ space: Workspace
  ) {
    if m <= updateLeafSize {
      GEMM.multiply(
        m: m, n: m, k: k, a: a, lda: lda, b: a, ldb: lda, transposeB: true, c: space.tile, ldc: m,
        workspace: space.gemm, threads: space.threads)
      for i in 0..<m {
        let ci = c + i * ldc, ti = space.tile + i * m
        for j in 0...i { ci[j] -= ti[j] }
      }
      return
    }
    let m1 = recursionSplit(m), m2 = m - m1
    subtractLowerGram(m1, k: k, a, lda, c, ldc, space)
    GEMM.multiply(
      m: m2, n: m1, k: k, alpha: -1, a: a + m1 * lda, lda: lda, b: a, ldb: lda, transposeB: true,
      beta: 1, c: c + m1 * ldc, ldc: ldc, workspace: space.gemm, threads: space.threads)
    subtractLowerGram(m2, k: k, a + m1 * lda, lda, c + m1 * ldc + m1, ldc, space)
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

/// Where the recursive factorizations split n > 8 rows or columns: about
/// half, rounded up to a multiple of 8 (the GEMM tile's width), so the
/// first part is never empty and the second never is either.
@inline(__always)
func recursionSplit(_ n: Int) -> Int { roundUp(n / 2, 8) }
