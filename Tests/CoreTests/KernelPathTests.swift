import BilevelKernelsAVX512
import Foundation
import Testing

@testable import BilevelCore

/// The AVX2 and AVX-512 kernels give the same bits on the same inputs:
/// every sum keeps its order whatever the vector width. Runs only the
/// paths this machine supports (`KernelISA.supported`); with one path
/// there is nothing to compare and the suite says so.
@Suite struct KernelPathTests {
  static let paths = KernelISA.supported

  private static func random(_ count: Int, seed: UInt64) -> [Double] {
    var r = RandomStream(seed: seed)
    return (0..<max(1, count)).map { _ in 2 * r.nextUniform() - 1 }
  }

  /// Cross-checks the CPUID detection against the kernel's own report.
  @Test func bothPathsAreComparedOnAnAVX512Machine() throws {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
      let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })?.split(
        separator: " ")
    else { return }
    let avx512 = ["avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"].allSatisfy {
      flags.contains(Substring($0))
    }
    #if arch(x86_64)
      #expect(Self.paths == (avx512 ? [.avx2, .avx512] : [.avx2]))
    #else
      #expect(Self.paths == [.portable] && !avx512)
    #endif
  }

  /// C for every path, as bit patterns.
  private func gemm(
    m: Int, n: Int, k: Int, ta: Bool, tb: Bool, alpha: Double, beta: Double, threads: Int
  ) -> [[UInt64]] {
    let a = Self.random(m * k, seed: UInt64(m * 31 + k)),
      b = Self.random(k * n, seed: UInt64(n * 17 + k))
    let c0 = Self.random(m * n, seed: 5)
    return Self.paths.map { isa in
      var c = c0
      var ws = [Double](repeating: 0, count: GEMM.workspaceSize(m: m, n: n, k: k))
      a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
          GEMM.multiply(
            m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress!, lda: ta ? m : k, transposeA: ta,
            b: bp.baseAddress!, ldb: tb ? k : n, transposeB: tb, beta: beta, c: &c, ldc: n,
            workspace: &ws, threads: threads, isa: isa)
        }
      }
      return c.map(\.bitPattern)
    }
  }

  @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
  func gemmMatchesAcrossPaths(ta: Bool, tb: Bool) {
    var r = RandomStream(seed: 3)
    // Edge tiles of both (5 and 24 rows), several kc blocks (k > 256),
    // beta 0 and not, one and two threads.
    var shapes = [
      (1, 1, 1), (24, 8, 300), (29, 13, 513), (130, 70, 257), (5, 40, 9), (200, 37, 300),
      (97, 81, 40),
    ]
    for _ in 0..<12 {
      shapes.append(
        (1 + Int(r.nextUInt64() % 90), 1 + Int(r.nextUInt64() % 90), 1 + Int(r.nextUInt64() % 600)))
    }
    for (m, n, k) in shapes {
      for (alpha, beta, threads) in [(1.0, 0.0, 1), (-0.75, 0.5, 2), (1.5, 1.0, 1)] {
        let results = gemm(
          m: m, n: n, k: k, ta: ta, tb: tb, alpha: alpha, beta: beta, threads: threads)
        #expect(
          Set(results).count == 1,
          "m \(m) n \(n) k \(k) ta \(ta) tb \(tb) beta \(beta) threads \(threads)")
      }
    }
  }

  @Test(arguments: [false, true])
  func gemvMatchesAcrossPaths(transposed: Bool) {
    for (m, n) in [(1, 1), (7, 3), (37, 61), (130, 129), (300, 45), (64, 515)] {
      let a = Self.random(m * n, seed: UInt64(m + n)), x = Self.random(transposed ? m : n, seed: 9)
      let y0 = Self.random(transposed ? n : m, seed: 10)
      for beta in [0.0, 0.5] {
        let results = Self.paths.map { isa -> [UInt64] in
          var y = y0
          GEMV.multiply(
            m: m, n: n, alpha: 0.75, a: a, lda: n, transposeA: transposed, x: x, beta: beta, y: &y,
            threads: 2, isa: isa)
          return y.map(\.bitPattern)
        }
        #expect(Set(results).count == 1, "m \(m) n \(n) transposed \(transposed) beta \(beta)")
      }
    }
  }

  @Test func vectorLoopsMatchTheSharedOnes() {
    // Elementwise512 and Vector512 are called directly: only where they can run.
    guard Self.paths.contains(.avx512) else { return }
    // Specials too: NaN, ±0, ±∞, subnormals (relu, abs, sqrt, division).
    let specials: [Double] = [
      .nan, 0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, 1e308,
      -2,
    ]
    for n in [0, 1, 7, 8, 9, 64, 67] {
      let x = Self.random(n, seed: UInt64(n)).prefix(n).enumerated().map { i, v in
        i % 3 == 0 ? specials[i % specials.count] : v
      }
      let y = Self.random(n, seed: UInt64(n + 100)).prefix(n).enumerated().map { i, v in
        i % 4 == 1 ? specials[(i + 2) % specials.count] : v
      }
      x.withUnsafeBufferPointer { xp in
        y.withUnsafeBufferPointer { yp in
          let xs = BlockOperand.run(xp.baseAddress ?? UnsafePointer(bitPattern: 8)!)
          let ys = BlockOperand.run(yp.baseAddress ?? UnsafePointer(bitPattern: 8)!)
          for (g, f) in [
            (Elementwise512.Unary.negate, { (v: Double) in -v }), (.sqrt, { $0.squareRoot() }),
            (.abs, { Swift.abs($0) }), (.relu, { $0 > 0 ? $0 : 0 }), (.copy, { $0 }),
          ] {
            for operand in [xs, .value(-0.0), .value(.nan), .value(2.5)] {
              #expect(
                run(n) { FusedLoops.map(operand, $0, n, f) }
                  == run(n) { Elementwise512.unary(g, operand.wide, $0, n) },
                "\(g) n \(n)")
            }
          }
          let binaries: [(Elementwise512.Binary, (Double, Double) -> Double)] = [
            (.add, { $0 + $1 }), (.subtract, { $0 - $1 }), (.multiply, { $0 * $1 }),
            (.divide, { $0 / $1 }),
            (.square, { a, _ in a * a }), (.cube, { a, _ in a * a * a }),
          ]
          for (g, f) in binaries {
            for (p, q) in [(xs, ys), (xs, .value(3)), (.value(-0.5), ys), (.value(7), .value(0))] {
              #expect(
                run(n) { FusedLoops.zip(p, q, $0, n, f) }
                  == run(n) { Elementwise512.binary(g, p.wide, q.wide, $0, n) },
                "\(g) n \(n)")
            }
          }
          if n > 0 {
            for alpha in [0.0, -1.5] {
              var shared = y, wide = y
              VectorKernels.axpy4(n, alpha, xp.baseAddress!, &shared)
              Vector512.axpy(n, alpha, xp.baseAddress!, &wide)
              #expect(shared.map(\.bitPattern) == wide.map(\.bitPattern), "axpy n \(n)")
            }
          }
        }
      }
    }
  }

  private func run(_ n: Int, _ body: (UnsafeMutablePointer<Double>) -> Void) -> [UInt64] {
    var out = [Double](repeating: 1, count: max(1, n))
    out.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    return out.prefix(n).map(\.bitPattern)
  }
}
