import BilevelFrontEnd
import Foundation
import Testing

@testable import BilevelCore

// MARK: RandomStream

@Suite struct RandomStreamTests {
  // Reference values from an independent Python implementation of
  // SplitMix64 + xoshiro256** (integer arithmetic, so exact).
  @Test func rawOutputsMatchReference() {
    let expected: [UInt64: [UInt64]] = [
      0: [
        0x99ec_5f36_cb75_f2b4, 0xbf6e_1f78_4956_452a, 0x1a5f_849d_4933_e6e0, 0x6aa5_94f1_262d_2d2c,
      ],
      42: [
        0x1578_0b2e_0c2e_c716, 0x6104_d986_6d11_3a7e, 0xae17_5332_39e4_99a1, 0xecb8_ad47_03b3_60a1,
      ],
      0xDEAD_BEEF: [
        0xc555_5444_a74d_7e83, 0x65c3_0d37_b4b1_6e38, 0x54f7_7320_0a4e_fa23, 0x429a_ed75_fb95_8af7,
      ],
    ]
    for (seed, values) in expected {
      var r = RandomStream(seed: seed)
      #expect((0..<4).map { _ in r.nextUInt64() } == values, "seed \(seed)")
    }
  }

  @Test func uniformsAreBitIdenticalToReference() {
    let expected: [UInt64: [UInt64]] = [
      0: [
        0x3fe3_3d8b_e6d9_6ebe, 0x3fe7_edc3_ef09_2ac8, 0x3fba_5f84_9d49_33e0, 0x3fda_a965_3c49_8b4a,
      ],
      42: [
        0x3fb5_780b_2e0c_2ec0, 0x3fd8_4136_619b_444e, 0x3fe5_c2ea_6647_3c93, 0x3fed_9715_a8e0_766c,
      ],
    ]
    for (seed, bits) in expected {
      var r = RandomStream(seed: seed)
      #expect((0..<4).map { _ in r.nextUniform().bitPattern } == bits, "seed \(seed)")
    }
  }

  /// Python's polar method uses the platform `math.log`, so allow a few ulps;
  /// our own bits are pinned separately below.
  @Test func normalsAgreeWithPythonReference() {
    let python: [UInt64: [Double]] = [
      0: [
        0.5981026483626094, 1.4634599192204392, -0.8950525532379914,
        -0.1880627660388742, -2.415606685712082, 1.1072094167289706,
      ],
      42: [
        -0.7262191382447857, -0.21119691823195985, 0.2216227015035933,
        0.5227716877560146, 0.46417731016247366, 0.7409788916865562,
      ],
      0xDEAD_BEEF: [
        1.382406996424062, -0.5231497105774829, -0.8395558222438894,
        -1.1977760104012116, 0.20944905031614666, 0.050084954923491444,
      ],
    ]
    for (seed, values) in python {
      var r = RandomStream(seed: seed)
      for v in values {
        let x = r.nextNormal()
        #expect(abs(x - v) <= 4 * v.ulp, "seed \(seed): \(x) vs \(v)")
      }
    }
  }

  /// The exact bits every platform must produce (regression guard).
  @Test func normalBitsArePinned() {
    var r = RandomStream(seed: 0)
    let bits: [UInt64] = [
      0x3fe3_23a8_2a4b_c9e5, 0x3ff7_6a54_f2c0_effa, 0xbfec_a445_408b_789c,
      0xbfc8_1270_d2dd_bad6, 0xc003_5329_9919_0f0a, 0x3ff1_b721_38aa_c960,
    ]
    #expect((0..<6).map { _ in r.nextNormal().bitPattern } == bits)
  }

  @Test func streamsAreDeterministicAndSeedSensitive() {
    var a = RandomStream(seed: 123)
    var b = RandomStream(seed: 123)
    var c = RandomStream(seed: 124)
    let xa = (0..<100).map { _ in a.nextNormal() }
    let xb = (0..<100).map { _ in b.nextNormal() }
    let xc = (0..<100).map { _ in c.nextNormal() }
    #expect(xa.map(\.bitPattern) == xb.map(\.bitPattern))
    #expect(xa != xc)
  }

  @Test func tensorsFillRowMajorFromAFreshStream() {
    let t = RandomStream.uniform(shape: .matrix(2, 3), seed: 9)
    var r = RandomStream(seed: 9)
    #expect(t.shape == .matrix(2, 3))
    #expect(t.scalars == (0..<6).map { _ in r.nextUniform() })
    let n = RandomStream.normal(shape: .vector(5), seed: 9)
    var s = RandomStream(seed: 9)
    #expect(n.scalars == (0..<5).map { _ in s.nextNormal() })
    #expect(RandomStream.normal(shape: .scalar, seed: 1).shape == .scalar)
    #expect(RandomStream.uniform(shape: .vector(0), seed: 1).scalars.isEmpty)
  }

  @Test func uniformsStayInRange() {
    var r = RandomStream(seed: 5)
    var sum = 0.0
    for _ in 0..<100_000 {
      let u = r.nextUniform()
      #expect(u >= 0 && u < 1)
      sum += u
    }
    #expect(abs(sum / 100_000 - 0.5) < 0.01)
  }

  @Test func normalSampleMomentsAreStandard() {
    var r = RandomStream(seed: 2024)
    let n = 100_000
    var sum = 0.0
    var sumSquares = 0.0
    for _ in 0..<n {
      let x = r.nextNormal()
      sum += x
      sumSquares += x * x
    }
    let mean = sum / Double(n)
    let variance = sumSquares / Double(n) - mean * mean
    #expect(abs(mean) < 0.02)
    #expect(abs(variance - 1) < 0.03)
  }

  @Test func logMatchesFoundationAcrossTheRange() {
    var r = RandomStream(seed: 77)
    var samples: [Double] = [
      1, 2, 0.5, 10, 0.1, 1e-300, 1e300, .leastNormalMagnitude,
      .greatestFiniteMagnitude, 1.0.nextUp, 1.0.nextDown, 2.0.squareRoot(),
    ]
    for _ in 0..<200_000 {
      let exponent = Int(r.nextUInt64() % 2046) - 1022
      samples.append((1 + r.nextUniform()) * Foundation.pow(2.0, Double(exponent)))
    }
    for _ in 0..<50_000 { samples.append(1 + (r.nextUniform() - 0.5) * 1e-3) }
    for _ in 0..<1000 {
      samples.append(Double.leastNonzeroMagnitude * Double(1 + r.nextUInt64() % 1_000_000))
    }
    var worst = 0.0
    for x in samples {
      let ours = RandomStream.log(x)
      let reference = Foundation.log(x)
      let error = reference == 0 ? abs(ours) : abs(ours - reference) / abs(reference)
      worst = max(worst, error)
      if error > 1e-15 { Issue.record("log(\(x)) = \(ours), expected \(reference)") }
    }
    #expect(worst < 1e-15)
  }

  @Test func logSpecialValues() {
    #expect(RandomStream.log(1) == 0)
    #expect(RandomStream.log(0) == -.infinity)
    #expect(RandomStream.log(-1).isNaN)
    #expect(RandomStream.log(.nan).isNaN)
    #expect(RandomStream.log(.infinity) == .infinity)
    #expect(
      RandomStream.log(.leastNonzeroMagnitude) == Foundation.log(Double.leastNonzeroMagnitude))
  }
}
