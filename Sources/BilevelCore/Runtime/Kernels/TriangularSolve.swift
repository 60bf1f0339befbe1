/// Triangular solves on row-major factors, for the Cholesky and LU
/// drivers. Vector forms use whichever of the dot or axpy orderings reads
/// the factor along its rows (unit stride); matrix forms are blocked: the
/// coupling to already-solved rows is one GEMM per block of rows, and only
/// the small diagonal block is solved row by row.
enum TriangularSolve {
  /// Rows per block in the matrix forms (and the factorizations' panel width).
  static let blockSize = 64

  // MARK: Vector right-hand sides (in place)

  /// L·x = b, L lower triangular (unit diagonal when `unit`).
  static func lower(
    _ n: Int, _ l: UnsafePointer<Double>, _ ldl: Int, unit: Bool, _ b: UnsafeMutablePointer<Double>
  ) {
    for i in 0..<n {
      let s = b[i] - VectorKernels.dot(i, l + i * ldl, b)
      b[i] = unit ? s : s / l[i * ldl + i]
    }
  }

  /// Lᵀ·x = b, L lower triangular: column i of Lᵀ is row i of L.
  static func lowerTransposed(
    _ n: Int, _ l: UnsafePointer<Double>, _ ldl: Int, unit: Bool, _ b: UnsafeMutablePointer<Double>
  ) {
    var i = n - 1
    while i >= 0 {
      if !unit { b[i] /= l[i * ldl + i] }
      VectorKernels.axpy(i, -b[i], l + i * ldl, b)
      i -= 1
    }
  }

  /// U·x = b, U upper triangular.
  static func upper(
    _ n: Int, _ u: UnsafePointer<Double>, _ ldu: Int, _ b: UnsafeMutablePointer<Double>
  ) {
    var i = n - 1
    while i >= 0 {
      let row = u + i * ldu
      b[i] = (b[i] - VectorKernels.dot(n - i - 1, row + i + 1, b + i + 1)) / row[i]
      i -= 1
    }
  }

  /// Uᵀ·x = b, U upper triangular: column i of Uᵀ is row i of U.
  static func upperTransposed(
    _ n: Int, _ u: UnsafePointer<Double>, _ ldu: Int, _ b: UnsafeMutablePointer<Double>
  ) {
    for i in 0..<n {
      let row = u + i * ldu
      b[i] /= row[i]
      VectorKernels.axpy(n - i - 1, -b[i], row + i + 1, b + i + 1)
    }
  }

  // MARK: Matrix right-hand sides (n×r, leading dimension ldb, in place)

  /// GEMM workspace the matrix forms need for an n×n factor and r columns.
  static func workspaceSize(n: Int, r: Int) -> Int {
    GEMM.workspaceSize(m: min(n, blockSize), n: r, k: n)
  }

  /// L·X = B. Block rows ascending: B₁ -= L₁₀·X₀ (GEMM), then L₁₁·X₁ = B₁.
  static func lower(
    _ n: Int, _ r: Int, _ l: UnsafePointer<Double>, _ ldl: Int, unit: Bool,
    _ b: UnsafeMutablePointer<Double>, _ ldb: Int, workspace: UnsafeMutablePointer<Double>,
    threads: Int? = nil
  ) {
    var i0 = 0
    while i0 < n {
      let i1 = min(n, i0 + blockSize)
      if i0 > 0 {
        GEMM.multiply(
          m: i1 - i0, n: r, k: i0, alpha: -1, a: l + i0 * ldl, lda: ldl, b: b, ldb: ldb,
          beta: 1, c: b + i0 * ldb, ldc: ldb, workspace: workspace, threads: threads)
      }
      for i in i0..<i1 {
        let bi = b + i * ldb
        for k in i0..<i { VectorKernels.axpy(r, -l[i * ldl + k], b + k * ldb, bi) }
        if !unit { divide(r, bi, by: l[i * ldl + i]) }
      }
      i0 = i1
    }
  }

  /// Lᵀ·X = B. Block rows descending: B₁ -= (L₂₁)ᵀ·X₂ (GEMM with
  /// transposed A), then (L₁₁)ᵀ·X₁ = B₁.
  static func lowerTransposed(
    _ n: Int, _ r: Int, _ l: UnsafePointer<Double>, _ ldl: Int, unit: Bool,
    _ b: UnsafeMutablePointer<Double>, _ ldb: Int, workspace: UnsafeMutablePointer<Double>
  ) {
    var i1 = n
    while i1 > 0 {
      let i0 = max(0, i1 - blockSize)
      if i1 < n {
        GEMM.multiply(
          m: i1 - i0, n: r, k: n - i1, alpha: -1, a: l + i1 * ldl + i0, lda: ldl, transposeA: true,
          b: b + i1 * ldb, ldb: ldb, beta: 1, c: b + i0 * ldb, ldc: ldb, workspace: workspace)
      }
      var i = i1 - 1
      while i >= i0 {
        let bi = b + i * ldb
        if !unit { divide(r, bi, by: l[i * ldl + i]) }
        for k in i0..<i { VectorKernels.axpy(r, -l[i * ldl + k], bi, b + k * ldb) }
        i -= 1
      }
      i1 = i0
    }
  }

  /// U·X = B. Block rows descending: B₁ -= U₁₂·X₂ (GEMM), then U₁₁·X₁ = B₁.
  static func upper(
    _ n: Int, _ r: Int, _ u: UnsafePointer<Double>, _ ldu: Int,
    _ b: UnsafeMutablePointer<Double>, _ ldb: Int, workspace: UnsafeMutablePointer<Double>
  ) {
    var i1 = n
    while i1 > 0 {
      let i0 = max(0, i1 - blockSize)
      if i1 < n {
        GEMM.multiply(
          m: i1 - i0, n: r, k: n - i1, alpha: -1, a: u + i0 * ldu + i1, lda: ldu,
          b: b + i1 * ldb, ldb: ldb, beta: 1, c: b + i0 * ldb, ldc: ldb, workspace: workspace)
      }
      var i = i1 - 1
      while i >= i0 {
        let bi = b + i * ldb
        for k in (i + 1)..<i1 { VectorKernels.axpy(r, -u[i * ldu + k], b + k * ldb, bi) }
        divide(r, bi, by: u[i * ldu + i])
        i -= 1
      }
      i1 = i0
    }
  }

  /// x[j] /= d: a true division, as LAPACK's dtrsm does, rather than a
  /// reciprocal multiply that adds a rounding.
  @inline(__always)
  static func divide(_ n: Int, _ x: UnsafeMutablePointer<Double>, by d: Double) {
    for j in 0..<n { x[j] /= d }
  }
}
