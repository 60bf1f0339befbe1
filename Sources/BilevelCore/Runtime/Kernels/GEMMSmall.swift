extension GEMM {
  /// Whether a product takes the one-block path: the AVX2 tile, one thread,
  /// and every dimension within one block of `blocking`, so the blocked
  /// loops would each run once.
  @inline(__always)
  static func fitsOneBlock(
    m: Int, n: Int, k: Int, blocking: GEMMBlocking, threads: Int?, tile: GEMMTile
  ) -> Bool {
    !tile.wide && m <= blocking.mcRounded(.avx2) && n <= blocking.ncRounded(.avx2)
      && k <= blocking.kcClamped
      && (threads ?? automaticThreads(m: m, n: n, k: k, blocking: blocking)) <= 1
  }

  /// `serial` for a product within one block on the AVX2 tile, with the
  /// tile's sizes as constants (no runtime divisions, no blocking loops):
  /// the same packing and micro-kernel calls in the same order, so the
  /// same bits. Small products (the MLP layers of the meta-learning
  /// samples) spend as long in the setup as in the arithmetic.
  static func oneBlock(
    m: Int, n: Int, k: Int, alpha: Double,
    a: UnsafePointer<Double>, lda: Int, ta: Bool,
    b: UnsafePointer<Double>, ldb: Int, tb: Bool,
    beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int,
    ws: UnsafeMutablePointer<Double>
  ) {
    let mr = MicroTile.rows, nr = MicroTile.columns
    let aBuf = ws
    let bBuf = aBuf + roundUp(roundUp(m, mr) * k, 8)
    let edgeTile = bBuf + roundUp(roundUp(n, nr) * k, 8)
    let bSlivers = packedB(b, ldb: ldb, tb: tb, kb: k, nb: n, into: bBuf)
    GEMMPacking.packA(a, lda: lda, transposed: ta, mb: m, kb: k, rows: mr, into: aBuf)
    macroKernel(
      mb: m, nb: n, kb: k, a: Slivers(packed: aBuf, width: mr, kb: k), b: bSlivers, c: c,
      ldc: ldc, alpha: alpha, beta: beta, tile: edgeTile)
  }

  /// One kb×nb slice of op(B) for the AVX2 kernel: read in place where
  /// `readInPlace` allows (its partial last sliver packed into `bBuf`),
  /// else packed whole.
  @inline(__always)
  static func packedB(
    _ bSource: UnsafePointer<Double>, ldb: Int, tb: Bool, kb: Int, nb: Int,
    into bBuf: UnsafeMutablePointer<Double>
  ) -> Slivers {
    let nr = MicroTile.columns
    if !tb && readInPlace(ld: ldb, kb: kb) {
      let full = nb / nr
      if full * nr < nb {
        GEMMPacking.packB(
          bSource + full * nr, ldb: ldb, transposed: false, kb: kb, nb: nb - full * nr,
          into: bBuf)
      }
      return Slivers(base: bSource, step: ldb, stride: nr, full: full, edge: bBuf, edgeStep: nr)
    }
    GEMMPacking.packB(bSource, ldb: ldb, transposed: tb, kb: kb, nb: nb, into: bBuf)
    return Slivers(packed: bBuf, width: nr, kb: kb)
  }
}
