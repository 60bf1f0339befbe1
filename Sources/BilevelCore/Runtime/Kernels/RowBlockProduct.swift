/// Computes the row weights w[lo..<hi] from u[lo..<hi] (and anything else
/// local to those rows) for one part of a row-block product: called with
/// the caller's context, `lo`, `hi` and the part's index (parts may run at
/// once, so each has its own scratch). A C function pointer, so a dispatch
/// allocates no closure context.
public typealias RowWeightsFunction = @convention(c) (UnsafeRawPointer, Int, Int, Int) -> Void

/// y = Aᵀ w with w = f(A x₁, …, A xₖ) row by row, on a row-major A (m×n),
/// reading A once: for each block of rows, uᵢ_b = A_b xᵢ, then w_b =
/// f(u_b), then y += A_bᵀ w_b while A_b is still in L2. A logistic
/// Hessian-vector product Xᵀ(σ'(Xθ)·(Xv)) (k = 2) and gradient
/// Xᵀ(σ(Xθ) − y) (k = 1) are such products; computed as separate products
/// they stream A from memory k + 1 times.
///
/// The rows are split into `parts(rows:columns:)` parts, a function of the
/// sizes alone: part p accumulates its rows' Aᵀ w in row order (part 0 into
/// y, the others into the workspace), then y = ((y₀ + y₁) + y₂) + …. So
/// the result is the same on any number of threads, and with one part it
/// is the two products' result bit for bit: u by GEMV's row dots, each
/// y[j] one FMA chain over the rows in order, as GEMV's transposed form.
/// Both loops are GEMV's own (`GEMV.Job`), AVX-512 twin included.
public enum RowBlockProduct {
  /// Rows per block: four to 256, as many as keep a block within half of
  /// a 512 KB L2 (AMD Zen; one row of d = 5000 is 40 KB).
  public static func blockRows(columns n: Int) -> Int {
    max(4, min(256, (32 * 1024 / max(1, n)) / 4 * 4))
  }

  /// Parts the rows are split into: one below GEMV's parallel threshold
  /// (the exact result of the unfused products), else one per 32 K entries
  /// of A, at most 16 (several per thread, so a preempted thread delays a
  /// small part), and at least a block of rows each.
  public static func parts(rows m: Int, columns n: Int) -> Int {
    if m * n < GEMV.parallelThreshold { return 1 }
    let blocks = (m + blockRows(columns: n) - 1) / blockRows(columns: n)
    return max(1, min(16, m * n / (32 * 1024), blocks))
  }

  /// Doubles of workspace: one partial y per part after the first.
  public static func workspaceSize(rows m: Int, columns n: Int) -> Int {
    (parts(rows: m, columns: n) - 1) * n
  }

  /// y[0..<n] = Aᵀ w, with uᵢ[0..<m] = A xᵢ (i < k) and w[0..<m] =
  /// weights(u) written on the way. `threads`: nil uses the pool, 1 runs
  /// every part here.
  public static func multiply(
    rows m: Int, columns n: Int, a: UnsafePointer<Double>,
    x: UnsafePointer<UnsafeMutablePointer<Double>>, u: UnsafePointer<UnsafeMutablePointer<Double>>,
    count k: Int, w: UnsafeMutablePointer<Double>,
    y: UnsafeMutablePointer<Double>, workspace: UnsafeMutablePointer<Double>,
    weights: RowWeightsFunction, context: UnsafeRawPointer, threads: Int? = nil
  ) {
    var job = Job(
      m: m, n: n, a: a, x: x, u: u, k: k, w: w, y: y, workspace: workspace, weights: weights,
      context: context, parts: parts(rows: m, columns: n), block: blockRows(columns: n),
      wide: wideKernels)
    let parts = job.parts
    if parts == 1 || threads == 1 {
      for p in 0..<parts { job.part(p) }
    } else {
      withUnsafePointer(to: &job) { jp in
        KernelThreadPool.shared.run(parts: parts, context: UnsafeRawPointer(jp)) { raw, p in
          raw.assumingMemoryBound(to: RowBlockProduct.Job.self).pointee.part(p)
        }
      }
    }
    // The partials in part order, whoever computed them.
    for p in 1..<max(1, parts) {
      let partial = workspace + (p - 1) * n
      for j in 0..<n { y[j] += partial[j] }
    }
  }

  struct Job {
    let m, n: Int
    let a: UnsafePointer<Double>
    let x, u: UnsafePointer<UnsafeMutablePointer<Double>>
    let k: Int
    let w, y, workspace: UnsafeMutablePointer<Double>
    let weights: RowWeightsFunction
    let context: UnsafeRawPointer
    let parts, block: Int
    let wide: Bool

    /// Rows of part p: a whole number of blocks each, the last part the rest.
    func part(_ p: Int) {
      let blocks = (m + block - 1) / block
      let lo = (p * blocks / parts) * block
      let hi = min(m, ((p + 1) * blocks / parts) * block)
      let sum = p == 0 ? y : workspace + (p - 1) * n
      for j in 0..<n { sum[j] = 0 }
      var i = lo
      while i < hi {
        let rows = min(block, hi - i)
        let rowsOfA = a + i * n
        for r in 0..<k {
          GEMV.Job(
            m: rows, n: n, alpha: 1, a: rowsOfA, lda: n, x: UnsafePointer(x[r]), beta: 0,
            y: u[r] + i, parts: 1, wide: wide
          ).plainRange(0, rows)
        }
        weights(context, i, i + rows, p)
        GEMV.Job(
          m: rows, n: n, alpha: 1, a: rowsOfA, lda: n, x: UnsafePointer(w + i), beta: 1, y: sum,
          parts: 1, wide: wide
        ).transposedRange(0, n)
        i += rows
      }
    }
  }
}
