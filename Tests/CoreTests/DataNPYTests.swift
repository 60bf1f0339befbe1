import Foundation
import Testing

@testable import BilevelCore

/// Builds an .npy file around a hand-written header (no padding needed).
private func npy(_ header: String, data: [UInt8] = [], version: UInt8 = 1) -> [UInt8] {
  let h = Array(header.utf8)
  var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
  if version == 1 {
    out += [UInt8(h.count & 0xFF), UInt8(h.count >> 8)]
  } else {
    out += (0..<4).map { UInt8((h.count >> (8 * $0)) & 0xFF) }
  }
  return out + h + data
}

private func littleEndian(_ values: [Double]) -> [UInt8] {
  values.flatMap { v in (0..<8).map { UInt8((v.bitPattern >> (8 * UInt64($0))) & 0xFF) } }
}

private func read(_ base64: String) -> Result<Tensor, NPYError> {
  NPYReader.read(bytes: NPYFixtures.bytes(base64))
}

private func tensor(_ bytes: [UInt8]) -> Tensor? {
  try? NPYReader.read(bytes: bytes).get()
}

private func error(_ bytes: [UInt8]) -> String? {
  if case .failure(let e) = NPYReader.read(bytes: bytes) { return e.message }
  return nil
}

@Suite struct NPYReaderTests {
  @Test func float64Matrix() throws {
    #expect(
      try read(NPYFixtures.f8Matrix).get()
        == Tensor(shape: .matrix(2, 3), scalars: [1.5, -2.25, 3e10, 0.1, -0.0, 1e-300]))
  }

  @Test func floatWidths() throws {
    #expect(try read(NPYFixtures.f4Vector).get().scalars == [Double(Float(0.1)), -1.5, 3.25])
    #expect(try read(NPYFixtures.f2Vector).get().scalars == [0.5, -2, 65504, 0x1.0p-24])
    #expect(try read(NPYFixtures.bigF4Vector).get().scalars == [0.25, -8.5])
  }

  @Test func integerTypes() throws {
    #expect(try read(NPYFixtures.i8Vector).get().scalars == [-9_007_199_254_740_992, 0, 42])
    #expect(try read(NPYFixtures.i4Vector).get().scalars == [-2_147_483_648, 7, 2_147_483_647])
    #expect(try read(NPYFixtures.i2Vector).get().scalars == [-32768, -1, 32767])
    #expect(try read(NPYFixtures.i1Vector).get().scalars == [-128, 0, 127])
    #expect(try read(NPYFixtures.u1Vector).get().scalars == [0, 200, 255])
    #expect(try read(NPYFixtures.u2Vector).get().scalars == [0, 65535])
    #expect(try read(NPYFixtures.u4Vector).get().scalars == [4_294_967_295])
    #expect(try read(NPYFixtures.u8Vector).get().scalars == [0x1.0p64, 3])
    #expect(try read(NPYFixtures.boolVector).get().scalars == [1, 0, 1])
    #expect(try read(NPYFixtures.bigI4Vector).get().scalars == [1, -2, 300_000])
  }

  @Test func fortranOrderBecomesRowMajor() throws {
    #expect(
      try read(NPYFixtures.fortranMatrix).get()
        == Tensor(shape: .matrix(2, 3), scalars: [1, 2, 3, 4, 5, 6]))
    #expect(
      try read(NPYFixtures.fortranInt).get()
        == Tensor(shape: .matrix(3, 2), scalars: [1, 2, 3, 4, 5, 6]))
  }

  @Test func bigEndianFloat64() throws {
    #expect(
      try read(NPYFixtures.bigF8Matrix).get()
        == Tensor(shape: .matrix(2, 2), scalars: [1, -2, 3.5, 4e100]))
  }

  @Test func shapes() throws {
    #expect(try read(NPYFixtures.scalar).get() == Tensor(2.5))
    #expect(try read(NPYFixtures.column).get() == Tensor(shape: .matrix(3, 1), scalars: [1, 2, 3]))
    #expect(try read(NPYFixtures.row).get() == Tensor(shape: .matrix(1, 3), scalars: [1, 2, 3]))
    #expect(try read(NPYFixtures.empty).get() == Tensor(shape: .vector(0), scalars: []))
  }

  @Test func laterFormatVersions() throws {
    #expect(
      try read(NPYFixtures.version2).get() == Tensor(shape: .matrix(2, 2), scalars: [1, 2, 3, 4]))
    #expect(try read(NPYFixtures.version3).get() == Tensor(shape: .vector(3), scalars: [7, 8, 9]))
    let v2 = npy(
      "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)}\n", data: littleEndian([6]),
      version: 2)
    #expect(tensor(v2) == Tensor(shape: .vector(1), scalars: [6]))
  }

  @Test func unsupportedContents() {
    let load = { (b64: String) in error(NPYFixtures.bytes(b64)) }
    #expect(load(NPYFixtures.threeAxes) == "array has 3 axes; bilevelc values have at most 2")
    #expect(load(NPYFixtures.complex) == "unsupported dtype '<c16'")
    #expect(
      load(NPYFixtures.structured) == "unsupported dtype: structured arrays are not supported")
  }

  @Test func damagedFiles() {
    let good = NPYFixtures.bytes(NPYFixtures.f8Matrix)
    #expect(error(Array(good.dropLast(12))) == "file is truncated: header says 6 values, found 4")
    #expect(error(Array("hello world".utf8)) == "not an .npy file (bad magic)")
    #expect(error([]) == "not an .npy file (bad magic)")
    #expect(error(Array(good.prefix(7))) == "file is truncated: no format version")
    #expect(error(Array(good.prefix(9))) == "file is truncated: no header length")
    #expect(
      error(Array(good.prefix(40)))
        == "file is truncated: the header is 118 bytes, but only 30 follow")
    var v4 = good
    v4[6] = 4
    #expect(error(v4) == "unsupported .npy format version 4.0")
  }

  @Test func headerSpellingsAreAccepted() {
    let data = littleEndian([1, 2])
    let headers = [
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
      "{\"descr\":\"<f8\",\"shape\":(2,),\"fortran_order\":False}",
      "{ 'descr' : '<f8' ,\n 'fortran_order' : False , 'shape' : ( 2 , ) , }   \n",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2L,), }",
      "{'descr': '=f8', 'fortran_order': True, 'shape': [2], }",
      "{'descr': 'f8', 'fortran_order': False, 'shape': (2,), 'extra': {'a': [None, -1]}}",
    ]
    for h in headers {
      #expect(tensor(npy(h, data: data)) == Tensor(shape: .vector(2), scalars: [1, 2]), "\(h)")
    }
  }

  @Test func malformedHeaders() {
    let cases: [(String, String)] = [
      ("{'descr': '<f8', 'fortran_order': False}", "header has no 'shape' tuple"),
      ("{'fortran_order': False, 'shape': (2,)}", "header has no 'descr'"),
      ("{'descr': '<f8', 'shape': (2,)}", "header has no boolean 'fortran_order'"),
      ("{'descr': '<f8', 'fortran_order': False, 'shape': (-2,)}", "shape has a negative size -2"),
      (
        "{'descr': '<f8', 'fortran_order': False, 'shape': ('2',)}",
        "shape entries must be integers"
      ),
      (
        "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}",
        "malformed header: integer too large"
      ),
      (
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4)}",
        "array of shape (4611686018427387904, 4) has more than 100000000 values"
      ),
      (
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)} trailing",
        "malformed header: unexpected text after the dict"
      ),
      ("{'descr': '<f8' 'shape': (2,)}", "malformed header: expected ',' between entries"),
      ("{'descr: '<f8'}", "malformed header: expected ':' after 'descr: '"),
      ("['descr']", "malformed header: expected a dict"),
      ("{'descr': '<f8', 'fortran_order': Maybe}", "malformed header: unexpected 'Maybe'"),
      ("{'descr': <f8}", "malformed header: unexpected character at header offset 10"),
      (String(repeating: "(", count: 10_000), "malformed header: nested too deeply"),
      ("{'a': " + String(repeating: "(", count: 10_000), "malformed header: nested too deeply"),
    ]
    for (header, message) in cases {
      #expect(error(npy(header, data: littleEndian([1, 2]))) == message, "\(header.prefix(80))")
    }
  }

  /// Random, truncated and mutated inputs must each give a tensor or an
  /// error, never a trap. Seeded, so a failure reproduces.
  @Test func arbitraryBytesNeverCrash() {
    let seeds = [
      NPYFixtures.f8Matrix, NPYFixtures.fortranInt, NPYFixtures.bigF8Matrix, NPYFixtures.version2,
      NPYFixtures.version3, NPYFixtures.scalar, NPYFixtures.boolVector, NPYFixtures.f2Vector,
    ].map(NPYFixtures.bytes)
    let tokens = [
      "{", "}", "(", ")", "[", "]", ":", ",", " ", "'descr'", "'shape'", "'fortran_order'",
      "'<f8'", "'>i2'", "'|b1'", "True", "False", "None", "0", "3", "-1", "'", "\"", "\\",
      "99999999999999999999", "1L", "\n", "\u{0}",
    ]
    var r = RandomStream(seed: 2718)
    func below(_ n: Int) -> Int { Int(r.nextUInt64() % UInt64(max(n, 1))) }
    var successes = 0
    for trial in 0..<5000 {
      var bytes: [UInt8]
      let base = seeds[below(seeds.count)]
      switch trial % 5 {
      case 0:
        bytes = (0..<below(160)).map { _ in UInt8(truncatingIfNeeded: r.nextUInt64()) }
        if r.nextUniform() < 0.5 { bytes = Array(base.prefix(8 + below(4))) + bytes }
      case 1:
        bytes = Array(base.prefix(below(base.count + 1)))
      case 2, 3:
        bytes = base
        for _ in 0..<(1 + below(4)) {
          let at = r.nextUniform() < 0.8 ? below(min(bytes.count, 140)) : below(bytes.count)
          bytes[at] = UInt8(truncatingIfNeeded: r.nextUInt64())
        }
      default:
        let header = (0..<below(40)).map { _ in tokens[below(tokens.count)] }.joined()
        bytes = npy(header, data: Array(base.suffix(below(64))), version: UInt8(1 + below(3)))
      }
      if case .success(let t) = NPYReader.read(bytes: bytes) {
        #expect(t.scalars.count == t.shape.count)
        successes += 1
      }
    }
    #expect(successes > 0)
  }
}
