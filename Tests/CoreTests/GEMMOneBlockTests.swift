import Testing

@testable import BilevelCore

/// Products within one block take GEMM's one-block path (constant tile
/// sizes, no blocking loops): the bits of the blocked loop nest's, for every
/// transpose pair, edge sizes, alpha and beta.
@Suite struct GEMMOneBlockTests {
  @Test(arguments: [(10, 40, 40), (80, 4, 20), (5, 8, 1), (13, 11, 7), (80, 2048, 256)])
  func oneBlockGivesTheBlockedBits(_ m: Int, _ n: Int, _ k: Int) {
    let blocking = GEMMBlocking.default
    #expect(GEMM.fitsOneBlock(m: m, n: n, k: k, blocking: blocking, threads: 1, tile: .avx2))
    #expect(!GEMM.fitsOneBlock(m: m, n: n, k: k + 256, blocking: blocking, threads: 1, tile: .avx2))
    var r = RandomStream(seed: UInt64(m * 31 + n * 7 + k))
    let a = (0..<(m * k)).map { _ in 2 * r.nextUniform() - 1 }
    let b = (0..<(k * n)).map { _ in 2 * r.nextUniform() - 1 }
    let c0 = (0..<(m * n)).map { _ in 2 * r.nextUniform() - 1 }
    var ws = [Double](repeating: 0, count: GEMM.workspaceSize(m: m, n: n, k: k))
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
      for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)] {
        var viaEntry = c0
        var viaLoops = c0
        ws.withUnsafeMutableBufferPointer { w in
          let ws = alignedTo64(w.baseAddress!)
          GEMM.multiply(
            m: m, n: n, k: k, alpha: alpha, a: a, lda: ta ? m : k, transposeA: ta, b: b,
            ldb: tb ? k : n, transposeB: tb, beta: beta, c: &viaEntry, ldc: n,
            workspace: w.baseAddress!, threads: 1)
          GEMM.serial(
            m: m, n: n, k: k, alpha: alpha, a: a, lda: ta ? m : k, ta: ta, b: b, ldb: tb ? k : n,
            tb: tb, beta: beta, c: &viaLoops, ldc: n, ws: ws, blocking: blocking, tile: .avx2)
        }
        #expect(
          viaEntry.map(\.bitPattern) == viaLoops.map(\.bitPattern),
          "m \(m) n \(n) k \(k) ta \(ta) tb \(tb) alpha \(alpha) beta \(beta)")
      }
    }
  }
}
