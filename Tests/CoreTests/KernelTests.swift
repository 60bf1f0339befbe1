import Foundation
import Testing

@testable import BilevelCore

// MARK: Helpers

/// A row-major matrix with padding columns (ld > cols) filled with NaN, so
/// a kernel that reads or writes outside the logical matrix is caught.
private struct PaddedMatrix {
  var rows: Int, cols: Int, ld: Int
  var storage: [Double]

  init(rows: Int, cols: Int, pad: Int = 0, seed: UInt64) {
    self.rows = rows
    self.cols = cols
    self.ld = cols + pad
    var r = RandomStream(seed: seed)
    storage = [Double](repeating: .nan, count: max(1, rows * ld))
    for i in 0..<rows {
      for j in 0..<cols { storage[i * ld + j] = 2 * r.nextUniform() - 1 }
    }
  }

  subscript(i: Int, j: Int) -> Double {
    get { storage[i * ld + j] }
    set { storage[i * ld + j] = newValue }
  }

  /// Padding entries still hold NaN.
  var paddingIntact: Bool {
    for i in 0..<rows {
      for j in cols..<ld where !storage[i * ld + j].isNaN { return false }
    }
    return true
  }
}

private func bits(_ xs: [Double]) -> [UInt64] { xs.map(\.bitPattern) }

/// Naive C = alpha·op(A)·op(B) + beta·C and the matching Σ|terms| bound.
private func naiveGEMM(
  m: Int, n: Int, k: Int, alpha: Double, a: PaddedMatrix, ta: Bool, b: PaddedMatrix, tb: Bool,
  beta: Double, c: PaddedMatrix
) -> (value: [Double], bound: [Double]) {
  var value = [Double](repeating: 0, count: m * n), bound = value
  for i in 0..<m {
    for j in 0..<n {
      var s = 0.0, t = 0.0
      for p in 0..<k {
        let x = ta ? a[p, i] : a[i, p]
        let y = tb ? b[j, p] : b[p, j]
        s += x * y
        t += abs(x * y)
      }
      let old = beta == 0 ? 0 : beta * c[i, j]
      value[i * n + j] = alpha * s + old
      bound[i * n + j] = abs(alpha) * t + abs(old)
    }
  }
  return (value, bound)
}

/// Runs GEMM on fresh operands and checks it against the naive product;
/// returns C's logical entries for bit comparisons.
@discardableResult
private func checkGEMM(
  m: Int, n: Int, k: Int, ta: Bool, tb: Bool, alpha: Double = 1, beta: Double = 0, pad: Int = 0,
  threads: Int? = 1, blocking: GEMMBlocking = .default
) -> [Double] {
  let a = PaddedMatrix(rows: ta ? k : m, cols: ta ? m : k, pad: pad, seed: UInt64(m * 7919 + k))
  let b = PaddedMatrix(
    rows: tb ? n : k, cols: tb ? k : n, pad: pad, seed: UInt64(n * 104_729 + k + 1))
  var c = PaddedMatrix(rows: m, cols: n, pad: pad, seed: 99)
  if beta == 0 { for i in 0..<m { for j in 0..<n { c[i, j] = .nan } } }  // must not be read
  let expected = naiveGEMM(
    m: m, n: n, k: k, alpha: alpha, a: a, ta: ta, b: b, tb: tb, beta: beta, c: c)
  var ws = [Double](repeating: 0, count: GEMM.workspaceSize(m: m, n: n, k: k, blocking: blocking))
  a.storage.withUnsafeBufferPointer { ap in
    b.storage.withUnsafeBufferPointer { bp in
      c.storage.withUnsafeMutableBufferPointer { cp in
        ws.withUnsafeMutableBufferPointer { wp in
          GEMM.multiply(
            m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress!, lda: a.ld, transposeA: ta,
            b: bp.baseAddress!, ldb: b.ld, transposeB: tb, beta: beta, c: cp.baseAddress!,
            ldc: c.ld,
            workspace: wp.baseAddress!, blocking: blocking, threads: threads)
        }
      }
    }
  }
  var out: [Double] = []
  var worst = 0.0
  for i in 0..<m {
    for j in 0..<n {
      let err = abs(c[i, j] - expected.value[i * n + j]) / max(expected.bound[i * n + j], 1e-300)
      worst = max(worst, err.isNaN ? .infinity : err)
      out.append(c[i, j])
    }
  }
  #expect(
    worst <= Double(k + 2) * 2.3e-16,
    "m \(m) n \(n) k \(k) ta \(ta) tb \(tb) alpha \(alpha) beta \(beta)")
  #expect(c.paddingIntact, "C padding written: m \(m) n \(n) k \(k)")
  return out
}

private let transposeCases = [(false, false), (false, true), (true, false), (true, true)]

// MARK: GEMM

@Suite struct GEMMTests {
  @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
  func matchesNaiveOnOddShapes(ta: Bool, tb: Bool) {
    var r = RandomStream(seed: 17)
    let odd = Array(stride(from: 1, through: 69, by: 2))
    for _ in 0..<40 {
      let pick = { odd[Int(r.nextUInt64() % UInt64(odd.count))] }
      checkGEMM(m: pick(), n: pick(), k: pick(), ta: ta, tb: tb)
    }
    for (m, n, k) in [
      (1, 1, 1), (1, 9, 1), (9, 1, 1), (1, 1, 70), (5, 8, 3), (6, 16, 2), (70, 70, 70), (2, 3, 4),
    ] {
      checkGEMM(m: m, n: n, k: k, ta: ta, tb: tb)
    }
  }

  @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
  func matchesNaiveOnLargeShapes(ta: Bool, tb: Bool) {
    checkGEMM(m: 129, n: 128, k: 257, ta: ta, tb: tb)
  }

  @Test func smallBlockingCoversEveryBlockEdge() {
    // Blocks far smaller than the shape: several mc, kc and nc blocks, each
    // ending in a partial tile.
    let tiny = GEMMBlocking(mc: 10, kc: 7, nc: 16, parallelThreshold: 0)
    for (ta, tb) in transposeCases {
      checkGEMM(m: 23, n: 37, k: 29, ta: ta, tb: tb, beta: 0.5, blocking: tiny)
    }
  }

  @Test func leadingDimensionsAndAccumulation() {
    for (ta, tb) in transposeCases {
      checkGEMM(m: 13, n: 21, k: 11, ta: ta, tb: tb, pad: 3)
      checkGEMM(m: 13, n: 21, k: 11, ta: ta, tb: tb, alpha: -1, beta: 1, pad: 5)
      checkGEMM(m: 31, n: 9, k: 300, ta: ta, tb: tb, alpha: 0.5, beta: -2, pad: 1)
    }
  }

  @Test func emptyDepthScalesC() {
    var c: [Double] = [1, 2, 3, 4]
    var ws = [0.0]
    let dummy = [0.0]
    GEMM.multiply(
      m: 2, n: 2, k: 0, a: dummy, lda: 1, b: dummy, ldb: 1, beta: 3, c: &c, ldc: 2, workspace: &ws)
    #expect(c == [3, 6, 9, 12])
    GEMM.multiply(
      m: 2, n: 2, k: 0, a: dummy, lda: 1, b: dummy, ldb: 1, beta: 0, c: &c, ldc: 2, workspace: &ws)
    #expect(c == [0, 0, 0, 0])
  }

  /// Through the pool (when the machine has a second core) and through
  /// explicit 2-, 3- and 4-way splits run in turn, so the partitioning is
  /// checked even on a single core.
  @Test func threadedResultsAreBitIdentical() {
    for (m, n, k) in [(70, 37, 300), (33, 129, 257), (41, 41, 5), (7, 300, 9)] {
      for (ta, tb) in transposeCases {
        let one = checkGEMM(m: m, n: n, k: k, ta: ta, tb: tb, alpha: 0.75, beta: 0.5, threads: 1)
        let two = checkGEMM(m: m, n: n, k: k, ta: ta, tb: tb, alpha: 0.75, beta: 0.5, threads: 2)
        #expect(bits(one) == bits(two), "pool m \(m) n \(n) k \(k)")
        for parts in 2...4 {
          #expect(
            bits(one) == bits(splitGEMM(m: m, n: n, k: k, ta: ta, tb: tb, parts: parts)),
            "parts \(parts)")
        }
      }
    }
  }

  private func splitGEMM(m: Int, n: Int, k: Int, ta: Bool, tb: Bool, parts: Int) -> [Double] {
    let a = PaddedMatrix(rows: ta ? k : m, cols: ta ? m : k, seed: UInt64(m * 7919 + k))
    let b = PaddedMatrix(rows: tb ? n : k, cols: tb ? k : n, seed: UInt64(n * 104_729 + k + 1))
    var c = PaddedMatrix(rows: m, cols: n, seed: 99)
    let blocking = GEMMBlocking.default
    let per = GEMM.perThreadWorkspace(m: m, n: n, k: k, blocking: blocking)
    var ws = [Double](repeating: 0, count: GEMM.workspaceSize(m: m, n: n, k: k, threads: parts))
    a.storage.withUnsafeBufferPointer { ap in
      b.storage.withUnsafeBufferPointer { bp in
        c.storage.withUnsafeMutableBufferPointer { cp in
          ws.withUnsafeMutableBufferPointer { wp in
            let job = GEMM.Job(
              m: m, n: n, k: k, alpha: 0.75, a: ap.baseAddress!, lda: a.ld, ta: ta,
              b: bp.baseAddress!, ldb: b.ld,
              tb: tb, beta: 0.5, c: cp.baseAddress!, ldc: c.ld, ws: alignedTo64(wp.baseAddress!),
              perThread: per,
              blocking: blocking, tile: GEMM.fitting(.active, m: m, n: n, k: k, blocking: blocking),
              parts: parts,
              splitN: n >= m)
            for p in (0..<parts).reversed() { job.runPart(p) }
          }
        }
      }
    }
    return (0..<m).flatMap { i in (0..<n).map { j in c[i, j] } }
  }
}

// MARK: GEMV and level 1

@Suite struct GEMVTests {
  /// y = alpha·op(A)·x + beta·y against a naive loop; returns y.
  @discardableResult
  private func check(
    m: Int, n: Int, transposed: Bool, alpha: Double, beta: Double, pad: Int, threads: Int?
  ) -> [Double] {
    let a = PaddedMatrix(rows: m, cols: n, pad: pad, seed: UInt64(m * 31 + n))
    let xs = PaddedMatrix(rows: 1, cols: transposed ? m : n, seed: 5).storage
    let outs = transposed ? n : m
    var y =
      beta == 0
      ? [Double](repeating: .nan, count: outs) : PaddedMatrix(rows: 1, cols: outs, seed: 6).storage
    var expected = [Double](repeating: 0, count: outs), bound = expected
    for o in 0..<outs {
      var s = 0.0, t = 0.0
      for p in 0..<(transposed ? m : n) {
        let v = (transposed ? a[p, o] : a[o, p]) * xs[p]
        s += v
        t += abs(v)
      }
      let old = beta == 0 ? 0 : beta * y[o]
      expected[o] = alpha * s + old
      bound[o] = abs(alpha) * t + abs(old) + 1e-300
    }
    a.storage.withUnsafeBufferPointer { ap in
      GEMV.multiply(
        m: m, n: n, alpha: alpha, a: ap.baseAddress!, lda: a.ld, transposeA: transposed, x: xs,
        beta: beta, y: &y, threads: threads)
    }
    let k = transposed ? m : n
    for o in 0..<outs {
      #expect(
        abs(y[o] - expected[o]) <= Double(k + 3) * 2.3e-16 * bound[o],
        "m \(m) n \(n) T \(transposed) [\(o)]")
    }
    return y
  }

  @Test(arguments: [false, true])
  func matchesNaive(transposed: Bool) {
    let sizes = [1, 2, 3, 4, 5, 7, 8, 9, 15, 17, 33, 63, 70]
    for m in sizes {
      for n in sizes {
        check(m: m, n: n, transposed: transposed, alpha: 1, beta: 0, pad: 0, threads: 1)
      }
    }
    check(m: 129, n: 257, transposed: transposed, alpha: -0.5, beta: 2, pad: 3, threads: 1)
    check(m: 11, n: 13, transposed: transposed, alpha: 2, beta: 1, pad: 2, threads: 1)
  }

  @Test(arguments: [false, true])
  func threadedResultsAreBitIdentical(transposed: Bool) {
    for (m, n) in [(300, 129), (129, 300), (64, 64)] {
      let one = check(
        m: m, n: n, transposed: transposed, alpha: 0.75, beta: 0.5, pad: 1, threads: 1)
      let two = check(
        m: m, n: n, transposed: transposed, alpha: 0.75, beta: 0.5, pad: 1, threads: 2)
      #expect(bits(one) == bits(two))
      // Explicit splits, in reverse order, independent of the core count.
      let a = PaddedMatrix(rows: m, cols: n, pad: 1, seed: UInt64(m * 31 + n))
      let xs = PaddedMatrix(rows: 1, cols: transposed ? m : n, seed: 5).storage
      var y = PaddedMatrix(rows: 1, cols: transposed ? n : m, seed: 6).storage
      a.storage.withUnsafeBufferPointer { ap in
        y.withUnsafeMutableBufferPointer { yp in
          xs.withUnsafeBufferPointer { xp in
            let job = GEMV.Job(
              m: m, n: n, alpha: 0.75, a: ap.baseAddress!, lda: a.ld, x: xp.baseAddress!,
              beta: 0.5, y: yp.baseAddress!, parts: 3, wide: wideKernels)
            for p in (0..<3).reversed() { transposed ? job.transposedPart(p) : job.plainPart(p) }
          }
        }
      }
      #expect(bits(one) == bits(y))
    }
  }

  @Test func levelOneHelpers() {
    for n in [0, 1, 3, 4, 7, 16, 17, 37] {
      let x = (0..<n).map { Double($0 % 5) - 1.5 }, y = (0..<n).map { 0.25 * Double($0) }
      let expected = zip(x, y).map(*).reduce(0, +)
      #expect(abs(VectorKernels.dot(n, x, y) - expected) <= 1e-12)
      var z = y
      VectorKernels.axpy(n, -2, x, &z)
      #expect(z == zip(x, y).map { $1 - 2 * $0 })
      VectorKernels.scale(n, 0.5, &z)
      #expect(z == zip(x, y).map { ($1 - 2 * $0) * 0.5 })
    }
  }
}
