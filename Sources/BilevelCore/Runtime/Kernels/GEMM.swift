import BilevelKernelsAVX512

/// Cache blocking for GEMM, in elements.
///
/// The loop nest is the Goto/BLIS one: an `nc`-column panel of op(B) and a
/// `kc`-deep slice are packed (kc×nc, meant for L3), then `mc`-row blocks of
/// op(A) are packed (mc×kc, meant for L2) and swept by the register tile's
/// micro-kernel (5×8 on AVX2, 24×8 on AVX-512) with one kc×8 sliver of B̃
/// resident in L1.
public struct GEMMBlocking: Sendable, Equatable {
  /// Rows of op(A) per packed block; rounded down to a multiple of the
  /// register tile's rows.
  public var mc: Int
  /// Depth of one packed slice. Fixes the summation grouping, so results
  /// depend on it (but never on the thread count).
  public var kc: Int
  /// Columns of op(B) per packed panel; rounded down to a multiple of 8.
  public var nc: Int
  /// Products of fewer flops (2·m·n·k) than this stay on one thread: below
  /// it the hand-off and the duplicated packing (each part packs its own
  /// copy of the unsplit operand) cost more than they save.
  public var parallelThreshold: Int

  public init(mc: Int, kc: Int, nc: Int, parallelThreshold: Int) {
    self.mc = mc
    self.kc = kc
    self.nc = nc
    self.parallelThreshold = parallelThreshold
  }

  /// Measured on a 2-core AMD EPYC (Zen 3, 32 KiB L1d, 512 KiB L2 per core).
  /// Single-thread speed is flat (within the ±5% noise of a shared VM)
  /// for mc 40–150, kc 128–512, nc 512–4080, as expected of a kernel that
  /// is FMA-bound once the packed operands sit in L1/L2; these values keep
  /// the kc×8 B sliver at half of L1 (16 KiB) and the mc×kc A block at a
  /// third of L2 (160 KiB), leaving room for the streamed B panel.
  /// Two threads measured 1.5× one at n = 64 (1.4× slower at n = 32) and
  /// 1.8–1.9× from n = 128 on an otherwise idle machine, hence the threshold.
  /// Both ISA paths use it: kc fixes the summation grouping, so it must
  /// be the same for the paths to give the same bits, and the 24-row
  /// AVX-512 tile rounds mc down to 72, so its buffers fit in the
  /// workspace sized for the 5-row tile (plans size it once, and their
  /// arena must not depend on the path).
  public static let `default` = GEMMBlocking(
    mc: 80, kc: 256, nc: 2048, parallelThreshold: 2 * 64 * 64 * 64)

  func mcRounded(_ t: GEMMTile) -> Int { max(t.rows, mc / t.rows * t.rows) }
  func ncRounded(_ t: GEMMTile) -> Int { max(t.columns, nc / t.columns * t.columns) }
  var kcClamped: Int { max(1, kc) }
}

/// A GEMM register tile and the micro-kernel family that computes it.
struct GEMMTile: Equatable {
  var rows: Int
  var columns: Int
  /// The AVX-512 kernels (BilevelKernelsAVX512) rather than this module's.
  var wide: Bool

  static let avx2 = GEMMTile(rows: MicroTile.rows, columns: MicroTile.columns, wide: false)
  static let avx512 = GEMMTile(rows: GEMMKernel512.rows, columns: GEMMKernel512.columns, wide: true)
  /// The tile of the active ISA path.
  static let active = KernelISA.active == .avx512 ? avx512 : avx2

  init(rows: Int, columns: Int, wide: Bool) {
    self.rows = rows
    self.columns = columns
    self.wide = wide
  }

  /// The tile of a supported path.
  init(_ isa: KernelISA) {
    precondition(
      KernelISA.supported.contains(isa), "the \(isa.rawValue) kernels cannot run on this machine")
    self = isa == .avx512 ? .avx512 : .avx2
  }
}

/// Double-precision matrix product on row-major buffers:
/// C = alpha·op(A)·op(B) + beta·C, with op(A) m×k and op(B) k×n.
///
/// Element (i, j) of a row-major buffer `x` with leading dimension `ldx`
/// is `x[i·ldx + j]`. A transposed operand is stored as its transpose:
/// `transposeA` means A is stored k×m (lda ≥ m), `transposeB` that B is
/// stored n×k (ldb ≥ k). `beta == 0` never reads C.
public enum GEMM {
  /// The register tile (rows × columns of C per micro-kernel call).
  public static var registerTile: (rows: Int, columns: Int) {
    (GEMMTile.active.rows, GEMMTile.active.columns)
  }

  /// Doubles of workspace `multiply` needs for these sizes with up to
  /// `threads` threads (default: all the pool's).
  public static func workspaceSize(
    m: Int, n: Int, k: Int, blocking: GEMMBlocking = .default,
    threads: Int = KernelThreadPool.shared.threadCount
  ) -> Int {
    if m <= 0 || n <= 0 || k <= 0 { return 0 }
    return 8 + max(1, threads) * perThreadWorkspace(m: m, n: n, k: k, blocking: blocking)
  }

  /// `tile`, or the AVX2 one where the wide tile's buffers would not fit
  /// the AVX2-sized workspace (short products pad 24 rows where 5 need
  /// few): the same bits either way.
  static func fitting(_ tile: GEMMTile, m: Int, n: Int, k: Int, blocking: GEMMBlocking) -> GEMMTile
  {
    let fits =
      perThreadWorkspace(m: m, n: n, k: k, blocking: blocking, tile: tile)
      <= perThreadWorkspace(m: m, n: n, k: k, blocking: blocking)
    return fits ? tile : .avx2
  }

  /// Sized for the AVX2 tile on every path (see `GEMMBlocking.default`).
  static func perThreadWorkspace(
    m: Int, n: Int, k: Int, blocking: GEMMBlocking, tile: GEMMTile = .avx2
  ) -> Int {
    let kb = min(blocking.kcClamped, k)
    let a = roundUp(min(blocking.mcRounded(tile), m), tile.rows) * kb
    let b = roundUp(min(blocking.ncRounded(tile), n), tile.columns) * kb
    return roundUp(a, 8) + roundUp(b, 8) + tile.rows * tile.columns
  }

  /// Threads `multiply` uses for these sizes when `threads` is nil.
  public static func automaticThreads(
    m: Int, n: Int, k: Int, blocking: GEMMBlocking = .default
  ) -> Int {
    let flops = 2.0 * Double(m) * Double(n) * Double(k)
    return flops >= Double(blocking.parallelThreshold) ? KernelThreadPool.shared.threadCount : 1
  }

  /// C = alpha·op(A)·op(B) + beta·C. Allocates nothing: packing buffers
  /// come from `workspace` (at least `workspaceSize(m:n:k:blocking:)`
  /// doubles). `threads`: nil decides by size; otherwise at most that many
  /// (clamped to the pool). Results are bit-identical for every thread count.
  public static func multiply(
    m: Int, n: Int, k: Int, alpha: Double = 1,
    a: UnsafePointer<Double>, lda: Int, transposeA: Bool = false,
    b: UnsafePointer<Double>, ldb: Int, transposeB: Bool = false,
    beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int,
    workspace: UnsafeMutablePointer<Double>,
    blocking: GEMMBlocking = .default, threads: Int? = nil
  ) {
    run(
      m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, ta: transposeA, b: b, ldb: ldb,
      tb: transposeB,
      beta: beta, c: c, ldc: ldc, workspace: workspace, blocking: blocking, threads: threads,
      tile: .active)
  }

  /// `multiply` on the given path instead of the active one, with that
  /// path's default blocking: the benchmark's side-by-side figures and the
  /// tests' path comparisons. `isa` must be in `KernelISA.supported`;
  /// `workspace` holds `workspaceSize(m:n:k:)` doubles.
  public static func multiply(
    m: Int, n: Int, k: Int, alpha: Double = 1,
    a: UnsafePointer<Double>, lda: Int, transposeA: Bool = false,
    b: UnsafePointer<Double>, ldb: Int, transposeB: Bool = false,
    beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int,
    workspace: UnsafeMutablePointer<Double>, threads: Int? = nil, isa: KernelISA
  ) {
    run(
      m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, ta: transposeA, b: b, ldb: ldb,
      tb: transposeB,
      beta: beta, c: c, ldc: ldc, workspace: workspace, blocking: .default, threads: threads,
      tile: GEMMTile(isa))
  }

  static func run(
    m: Int, n: Int, k: Int, alpha: Double,
    a: UnsafePointer<Double>, lda: Int, ta transposeA: Bool,
    b: UnsafePointer<Double>, ldb: Int, tb transposeB: Bool,
    beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int,
    workspace: UnsafeMutablePointer<Double>, blocking: GEMMBlocking, threads: Int?, tile: GEMMTile
  ) {
    if m <= 0 || n <= 0 { return }
    if k <= 0 || alpha == 0 {
      scale(m: m, n: n, beta: beta, c: c, ldc: ldc)
      return
    }
    let ws = alignedTo64(workspace)
    if fitsOneBlock(m: m, n: n, k: k, blocking: blocking, threads: threads, tile: tile) {
      return oneBlock(
        m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, ta: transposeA, b: b, ldb: ldb,
        tb: transposeB, beta: beta, c: c, ldc: ldc, ws: ws)
    }
    let pool = KernelThreadPool.shared
    let wanted = threads ?? automaticThreads(m: m, n: n, k: k, blocking: blocking)
    // Split the larger of m and n into tile-aligned parts.
    let splitN = n >= m
    let tiles = splitN ? (n + tile.columns - 1) / tile.columns : (m + tile.rows - 1) / tile.rows
    let parts = max(1, min(wanted, pool.threadCount, tiles))
    let per = perThreadWorkspace(m: m, n: n, k: k, blocking: blocking)
    let tile = fitting(tile, m: m, n: n, k: k, blocking: blocking)
    if parts == 1 {
      serial(
        m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, ta: transposeA, b: b, ldb: ldb,
        tb: transposeB,
        beta: beta, c: c, ldc: ldc, ws: ws, blocking: blocking, tile: tile)
      return
    }
    var job = Job(
      m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, ta: transposeA, b: b, ldb: ldb,
      tb: transposeB,
      beta: beta, c: c, ldc: ldc, ws: ws, perThread: per, blocking: blocking, tile: tile,
      parts: parts,
      splitN: splitN)
    withUnsafePointer(to: &job) { jp in
      pool.run(parts: parts, context: UnsafeRawPointer(jp)) { raw, part in
        raw.assumingMemoryBound(to: GEMM.Job.self).pointee.runPart(part)
      }
    }
  }

  struct Job {
    var m, n, k: Int
    var alpha: Double
    var a: UnsafePointer<Double>
    var lda: Int
    var ta: Bool
    var b: UnsafePointer<Double>
    var ldb: Int
    var tb: Bool
    var beta: Double
    var c: UnsafeMutablePointer<Double>
    var ldc: Int
    var ws: UnsafeMutablePointer<Double>
    var perThread: Int
    var blocking: GEMMBlocking
    var tile: GEMMTile
    var parts: Int
    var splitN: Bool

    /// Part `p` owns a contiguous, tile-aligned range of C's columns (or
    /// rows) and computes it exactly as a one-thread call would.
    func runPart(_ p: Int) {
      let ws = self.ws + p * perThread
      if splitN {
        let chunk = roundUp((n + parts - 1) / parts, tile.columns)
        let j0 = p * chunk
        if j0 >= n { return }
        let cols = min(chunk, n - j0)
        let bp = tb ? b + j0 * ldb : b + j0
        GEMM.serial(
          m: m, n: cols, k: k, alpha: alpha, a: a, lda: lda, ta: ta, b: bp, ldb: ldb, tb: tb,
          beta: beta, c: c + j0, ldc: ldc, ws: ws, blocking: blocking, tile: tile)
      } else {
        let chunk = roundUp((m + parts - 1) / parts, tile.rows)
        let i0 = p * chunk
        if i0 >= m { return }
        let rows = min(chunk, m - i0)
        let ap = ta ? a + i0 : a + i0 * lda
        GEMM.serial(
          m: rows, n: n, k: k, alpha: alpha, a: ap, lda: lda, ta: ta, b: b, ldb: ldb, tb: tb,
          beta: beta, c: c + i0 * ldc, ldc: ldc, ws: ws, blocking: blocking, tile: tile)
      }
    }
  }

  /// The one-thread blocked product; `ws` holds this thread's packing
  /// buffers (A block, B panel, one edge tile).
  static func serial(
    m: Int, n: Int, k: Int, alpha: Double,
    a: UnsafePointer<Double>, lda: Int, ta: Bool,
    b: UnsafePointer<Double>, ldb: Int, tb: Bool,
    beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int,
    ws: UnsafeMutablePointer<Double>, blocking: GEMMBlocking, tile shape: GEMMTile
  ) {
    let wide = shape.wide
    let mr = shape.rows, nr = shape.columns
    let mc = blocking.mcRounded(shape), kc = blocking.kcClamped, nc = blocking.ncRounded(shape)
    let kbMax = min(kc, k)
    let aBuf = ws
    let bBuf = aBuf + roundUp(roundUp(min(mc, m), mr) * kbMax, 8)
    let edgeTile = bBuf + roundUp(roundUp(min(nc, n), nr) * kbMax, 8)
    var jc = 0
    while jc < n {
      let nb = min(nc, n - jc)
      var pc = 0
      while pc < k {
        let kb = min(kc, k - pc)
        let bSource = tb ? b + jc * ldb + pc : b + pc * ldb + jc
        let bSlivers = packedB(bSource, ldb: ldb, tb: tb, kb: kb, nb: nb, into: bBuf)
        let blockBeta = pc == 0 ? beta : 1
        var ic = 0
        while ic < m {
          let mb = min(mc, m - ic)
          let aSource = ta ? a + pc * lda + ic : a + ic * lda + pc
          // A is always packed: read in place (when transposed) measured
          // 10–15% slower, one cache line per k step of every sliver.
          let aSlivers = Slivers(packed: aBuf, width: mr, kb: kb)
          if wide {
            GEMMPacking.packA(
              aSource, lda: lda, transposed: ta, mb: mb, kb: kb, rows: GEMMKernel512.rows,
              into: aBuf)
            GEMMKernel512.macroKernel(
              mb: mb, nb: nb, kb: kb, a: aSlivers.layout, b: bSlivers.layout,
              c: c + ic * ldc + jc, ldc: ldc, alpha: alpha, beta: blockBeta, tile: edgeTile)
          } else {
            GEMMPacking.packA(
              aSource, lda: lda, transposed: ta, mb: mb, kb: kb, rows: MicroTile.rows, into: aBuf)
            macroKernel(
              mb: mb, nb: nb, kb: kb, a: aSlivers, b: bSlivers, c: c + ic * ldc + jc, ldc: ldc,
              alpha: alpha, beta: blockBeta, tile: edgeTile)
          }
          ic += mc
        }
        pc += kc
      }
      jc += nc
    }
  }

  /// Whether a kb-deep slice of a non-transposed B (already k-major) is
  /// read in place instead of packed: only when its whole span (kb rows of
  /// `ldb`) is at most 64 KiB, so it stays cached whatever `ldb` is. For
  /// small products the copy costs as much as the arithmetic (n = 32: 24 →
  /// 31 GFLOP/s); for large ones packing keeps each sliver contiguous (a
  /// large power-of-two `ldb` would map a whole sliver onto one L1 set).
  @inline(__always)
  static func readInPlace(ld: Int, kb: Int) -> Bool { ld * kb <= 8192 }

  /// Sweeps one A block against one B panel. Column slivers outside, row
  /// slivers inside: the kb×8 B sliver stays in L1 while the A block
  /// streams from L2.
  static func macroKernel(
    mb: Int, nb: Int, kb: Int, a: Slivers, b: Slivers,
    c: UnsafeMutablePointer<Double>, ldc: Int, alpha: Double, beta: Double,
    tile: UnsafeMutablePointer<Double>
  ) {
    let mr = MicroTile.rows, nr = MicroTile.columns
    var jr = 0, js = 0
    while jr < nb {
      let cols = min(nr, nb - jr)
      let (bp, bStep) = b.sliver(js)
      var ir = 0, iS = 0
      while ir < mb {
        let rows = min(mr, mb - ir)
        let (ap, aStep) = a.sliver(iS)
        let cp = c + ir * ldc + jr
        if rows == mr && cols == nr {
          gemmMicroKernel(kb, ap, aStep, bp, bStep, cp, ldc, alpha: alpha, beta: beta)
        } else {
          // Same kernel into a scratch tile, then the same update formula
          // on the valid part: edge elements get the full-tile bits.
          gemmMicroKernel(kb, ap, aStep, bp, bStep, tile, nr, alpha: alpha, beta: 0)
          storeEdge(tile, cp, rows: rows, cols: cols, ldc: ldc, beta: beta)
        }
        ir += mr
        iS += 1
      }
      jr += nr
      js += 1
    }
  }

  /// Where the micro-kernel finds sliver `s` of an operand and the
  /// distance between its consecutive k steps: packed slivers are
  /// contiguous blocks; an operand read in place is addressed directly,
  /// except its trailing partial sliver, packed (zero-padded) into `edge`.
  /// Either way the kernel sees the same values, so results do not depend
  /// on the choice.
  struct Slivers {
    var base: UnsafePointer<Double>
    var step: Int
    var stride: Int
    var full: Int
    var edge: UnsafePointer<Double>
    var edgeStep: Int

    init(
      base: UnsafePointer<Double>, step: Int, stride: Int, full: Int, edge: UnsafePointer<Double>,
      edgeStep: Int
    ) {
      self.base = base
      self.step = step
      self.stride = stride
      self.full = full
      self.edge = edge
      self.edgeStep = edgeStep
    }

    init(packed: UnsafePointer<Double>, width: Int, kb: Int) {
      self.init(
        base: packed, step: width, stride: width * kb, full: .max, edge: packed, edgeStep: width)
    }

    @inline(__always)
    func sliver(_ s: Int) -> (UnsafePointer<Double>, Int) {
      s < full ? (base + s * stride, step) : (edge, edgeStep)
    }

    /// The same description for the AVX-512 macro-kernel.
    var layout: SliverLayout {
      SliverLayout(
        base: base, step: step, stride: stride, full: full, edge: edge, edgeStep: edgeStep)
    }
  }

  @inline(never)
  static func storeEdge(
    _ tile: UnsafePointer<Double>, _ c: UnsafeMutablePointer<Double>, rows: Int, cols: Int,
    ldc: Int, beta: Double
  ) {
    for i in 0..<rows {
      let t = tile + i * MicroTile.columns
      let ci = c + i * ldc
      if beta == 0 {
        for j in 0..<cols { ci[j] = t[j] }
      } else {
        for j in 0..<cols { ci[j] = t[j] + beta * ci[j] }
      }
    }
  }

  /// C = beta·C (the product is empty or scaled away); beta == 0 writes zeros.
  static func scale(m: Int, n: Int, beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
    for i in 0..<m {
      let ci = c + i * ldc
      for j in 0..<n { ci[j] = beta == 0 ? 0 : beta * ci[j] }
    }
  }
}

@inline(__always)
func roundUp(_ x: Int, _ multiple: Int) -> Int {
  (x + multiple - 1) / multiple * multiple
}

/// Advances to the next 64-byte boundary (at most 7 doubles, which
/// `workspaceSize` reserves): packed slivers then start on cache lines.
@inline(__always)
func alignedTo64(_ p: UnsafeMutablePointer<Double>) -> UnsafeMutablePointer<Double> {
  let address = UInt(bitPattern: p)
  let aligned = (address + 63) & ~UInt(63)
  return p + Int((aligned - address) / 8)
}
