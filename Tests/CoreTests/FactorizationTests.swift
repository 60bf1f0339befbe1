import Foundation
import Testing

@testable import BilevelCore

/// Dense row-major helpers for the factorization tests.
private func randomMatrix(_ n: Int, seed: UInt64) -> [Double] {
  var r = RandomStream(seed: seed)
  return (0..<(n * n)).map { _ in 2 * r.nextUniform() - 1 }
}

private func multiply(_ a: [Double], _ b: [Double], _ n: Int, _ r: Int) -> [Double] {
  var c = [Double](repeating: 0, count: n * r)
  for i in 0..<n {
    for p in 0..<n { for j in 0..<r { c[i * r + j] += a[i * n + p] * b[p * r + j] } }
  }
  return c
}

private func maxAbsDifference(_ a: [Double], _ b: [Double]) -> Double {
  zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// M·Mᵀ + n·I: symmetric, well-conditioned positive definite.
private func spdMatrix(_ n: Int, seed: UInt64) -> [Double] {
  let m = randomMatrix(n, seed: seed)
  var a = [Double](repeating: 0, count: n * n)
  for i in 0..<n {
    for j in 0..<n {
      var s = 0.0
      for p in 0..<n { s += m[i * n + p] * m[j * n + p] }
      a[i * n + j] = s + (i == j ? Double(n) : 0)
    }
  }
  return a
}

@Suite struct FactorizationTests {
  /// Both sides of every leaf and split: Cholesky's leaves of 32 and 64
  /// rows and 16-column solves, LU's 16-column panels, sizes not a multiple of 8.
  static let sizes = [1, 2, 5, 17, 33, 64, 65, 150, 257]

  @Test(arguments: FactorizationTests.sizes)
  func choleskyReconstructsAndSolves(n: Int) {
    let a = spdMatrix(n, seed: UInt64(n))
    var l = a
    // A sentinel upper triangle.
    for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { l[i * n + j] = -7 } }
    var ws = [Double](repeating: 0, count: max(1, Cholesky.workspaceSize(n: n)))
    #expect(Cholesky.factor(n: n, a: &l, lda: n, workspace: &ws) == .success)
    for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { #expect(l[i * n + j] == -7) } }
    var lower = l
    for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { lower[i * n + j] = 0 } }
    var lt = lower
    for i in 0..<n { for j in 0..<n { lt[i * n + j] = lower[j * n + i] } }
    let scale = Double(n) * Double(n)
    #expect(maxAbsDifference(multiply(lower, lt, n, n), a) <= 1e-13 * scale)

    let r = 3
    let xTrue = (0..<(n * r)).map { Double($0 % 7) - 3 }
    var b = multiply(a, xTrue, n, r)
    var sws = [Double](repeating: 0, count: max(1, Cholesky.solveWorkspaceSize(n: n, rhs: r)))
    Cholesky.solve(n: n, rhs: r, l: l, ldl: n, b: &b, ldb: r, workspace: &sws)
    #expect(maxAbsDifference(b, xTrue) <= 1e-11)
    var v = multiply(a, (0..<n).map { Double($0) / Double(n) }, n, 1)
    Cholesky.solve(n: n, l: l, ldl: n, b: &v)
    #expect(maxAbsDifference(v, (0..<n).map { Double($0) / Double(n) }) <= 1e-11)
  }

  @Test func choleskyReportsTheFirstNonPositivePivot() {
    var d: [Double] = [4, 0, 0, 0, 0, 9, 0, 0, 0, 0, -1, 0, 0, 0, 0, 16]
    var ws = [0.0]
    #expect(Cholesky.factor(n: 4, a: &d, lda: 4, workspace: &ws) == .nonPositivePivot(index: 2))
    // In the blocked path: row 70 makes the trailing pivot negative.
    let n = 100
    var a = spdMatrix(n, seed: 3)
    a[70 * n + 70] = -1
    var big = [Double](repeating: 0, count: Cholesky.workspaceSize(n: n))
    #expect(Cholesky.factor(n: n, a: &a, lda: n, workspace: &big) == .nonPositivePivot(index: 70))
    var nan: [Double] = [1, 0, 0, .nan]
    #expect(Cholesky.factor(n: 2, a: &nan, lda: 2, workspace: &ws) == .nonPositivePivot(index: 1))
  }

  @Test(arguments: FactorizationTests.sizes)
  func luReconstructsAndSolves(n: Int) {
    let a = randomMatrix(n, seed: UInt64(100 + n))
    var lu = a
    var pivots = [Int](repeating: -1, count: n)
    var ws = [Double](repeating: 0, count: max(1, LU.workspaceSize(n: n)))
    #expect(LU.factor(n: n, a: &lu, lda: n, pivots: &pivots, workspace: &ws) == .success)
    // P·A from the recorded swaps, against L·U.
    var pa = a
    for i in 0..<n where pivots[i] != i {
      for j in 0..<n { pa.swapAt(i * n + j, pivots[i] * n + j) }
    }
    var l = [Double](repeating: 0, count: n * n), u = l
    for i in 0..<n {
      for j in 0..<n {
        if j < i { l[i * n + j] = lu[i * n + j] } else { u[i * n + j] = lu[i * n + j] }
      }
      l[i * n + i] = 1
    }
    #expect(maxAbsDifference(multiply(l, u, n, n), pa) <= 1e-13 * Double(n))
    for i in 0..<n { for j in 0..<i { #expect(abs(l[i * n + j]) <= 1) } }  // partial pivoting bound

    let x = (0..<n).map { Double($0 % 5) - 2 }
    let tol = 1e-9
    var b = multiply(a, x, n, 1)
    LU.solve(n: n, lu: lu, lda: n, pivots: pivots, b: &b)
    #expect(maxAbsDifference(b, x) <= tol)
    var at = a
    for i in 0..<n { for j in 0..<n { at[i * n + j] = a[j * n + i] } }
    var bt = multiply(at, x, n, 1)
    LU.solveTransposed(n: n, lu: lu, lda: n, pivots: pivots, b: &bt)
    #expect(maxAbsDifference(bt, x) <= tol)
    let r = 4
    let xs = (0..<(n * r)).map { Double($0 % 9) - 4 }
    var bm = multiply(a, xs, n, r)
    var sws = [Double](repeating: 0, count: max(1, LU.solveWorkspaceSize(n: n, rhs: r)))
    LU.solve(n: n, rhs: r, lu: lu, lda: n, pivots: pivots, b: &bm, ldb: r, workspace: &sws)
    #expect(maxAbsDifference(bm, xs) <= tol)
  }

  @Test func luReportsSingularity() {
    var ws = [Double](repeating: 0, count: LU.workspaceSize(n: 80))
    // A zero column is found at its own index, in both paths.
    for n in [6, 80] {
      var a = randomMatrix(n, seed: 9)
      for i in 0..<n { a[i * n + 3] = 0 }
      var pivots = [Int](repeating: 0, count: n)
      #expect(
        LU.factor(n: n, a: &a, lda: n, pivots: &pivots, workspace: &ws) == .singular(index: 3))
    }
    // Two equal rows: elimination makes one of them exactly zero.
    var twins: [Double] = [1, 2, 3, 4, 5, 6, 1, 2, 3]
    var pivots = [0, 0, 0]
    #expect(
      LU.factor(n: 3, a: &twins, lda: 3, pivots: &pivots, workspace: &ws) == .singular(index: 2))
  }

  /// The recursive factors against the textbook unblocked loops (same
  /// algorithm, other summation order): agreement to rounding.
  @Test(arguments: [40, 129, 300])
  func factorsMatchTheUnblockedReference(n: Int) {
    let a = spdMatrix(n, seed: UInt64(7 * n))
    var l = a
    var ws = [Double](repeating: 0, count: Cholesky.workspaceSize(n: n))
    #expect(Cholesky.factor(n: n, a: &l, lda: n, workspace: &ws) == .success)
    var reference = a
    for j in 0..<n {
      var d = reference[j * n + j]
      for p in 0..<j { d -= reference[j * n + p] * reference[j * n + p] }
      reference[j * n + j] = d.squareRoot()
      for i in (j + 1)..<max(j + 1, n) {
        var s = reference[i * n + j]
        for p in 0..<j { s -= reference[i * n + p] * reference[j * n + p] }
        reference[i * n + j] = s / reference[j * n + j]
      }
    }
    var worst = 0.0
    for i in 0..<n {
      for j in 0...i { worst = max(worst, abs(l[i * n + j] - reference[i * n + j])) }
    }
    #expect(worst <= 1e-12 * Double(n).squareRoot())

    let g = randomMatrix(n, seed: UInt64(n))
    var lu = g
    var pivots = [Int](repeating: -1, count: n)
    var lws = [Double](repeating: 0, count: LU.workspaceSize(n: n))
    #expect(LU.factor(n: n, a: &lu, lda: n, pivots: &pivots, workspace: &lws) == .success)
    var ref = g
    var refPivots = [Int](repeating: -1, count: n)
    for j in 0..<n {
      var p = j
      for i in j..<n where abs(ref[i * n + j]) > abs(ref[p * n + j]) { p = i }
      refPivots[j] = p
      for c in 0..<n { ref.swapAt(j * n + c, p * n + c) }
      for i in (j + 1)..<max(j + 1, n) {
        ref[i * n + j] /= ref[j * n + j]
        for c in (j + 1)..<n { ref[i * n + c] -= ref[i * n + j] * ref[j * n + c] }
      }
    }
    // Random matrices have no near-ties, so the pivot rows agree exactly.
    #expect(pivots == refPivots)
    #expect(maxAbsDifference(lu, ref) <= 1e-10)
  }

  /// One thread and two give the same bits (two threads split every GEMM
  /// the recursion makes, down to the smallest), and neither writes past
  /// the workspace it asked for.
  @Test func factorsAreBitIdenticalAcrossThreadCounts() {
    let n = 300, guardCount = 64
    let spd = spdMatrix(n, seed: 11), g = randomMatrix(n, seed: 12)
    var results: [[UInt64]] = []
    for threads in [1, 2, nil] as [Int?] {
      var l = spd, lu = g
      var pivots = [Int](repeating: -1, count: n)
      var cws = [Double](repeating: 0, count: Cholesky.workspaceSize(n: n) + guardCount)
      var lws = [Double](repeating: 0, count: LU.workspaceSize(n: n) + guardCount)
      for i in 0..<guardCount {
        cws[cws.count - 1 - i] = 42
        lws[lws.count - 1 - i] = 42
      }
      #expect(Cholesky.factor(n: n, a: &l, lda: n, workspace: &cws, threads: threads) == .success)
      #expect(
        LU.factor(n: n, a: &lu, lda: n, pivots: &pivots, workspace: &lws, threads: threads)
          == .success)
      #expect(
        cws.suffix(guardCount).allSatisfy { $0 == 42 }
          && lws.suffix(guardCount).allSatisfy { $0 == 42 })
      results.append(l.map(\.bitPattern) + lu.map(\.bitPattern) + pivots.map { UInt64($0) })
    }
    #expect(results[0] == results[1] && results[1] == results[2])
  }

  /// Faults deep in the recursion are reported at their own row or column.
  @Test func faultsInsideTheRecursionKeepTheirIndex() {
    let n = 300
    var a = spdMatrix(n, seed: 5)
    a[250 * n + 250] = -1
    var ws = [Double](repeating: 0, count: Cholesky.workspaceSize(n: n))
    #expect(Cholesky.factor(n: n, a: &a, lda: n, workspace: &ws) == .nonPositivePivot(index: 250))
    var g = randomMatrix(n, seed: 6)
    for i in 0..<n { g[i * n + 200] = 0 }
    var pivots = [Int](repeating: -1, count: n)
    var lws = [Double](repeating: 0, count: LU.workspaceSize(n: n))
    #expect(
      LU.factor(n: n, a: &g, lda: n, pivots: &pivots, workspace: &lws) == .singular(index: 200))
  }
}
