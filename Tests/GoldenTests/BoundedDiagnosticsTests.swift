import Foundation
import TestSupport
import Testing

/// Whatever the input, the spawned `bilevelc` prints a few bounded lines of
/// errors: a run of bad bytes is one error, a long line is echoed as a window
/// around the caret, a long quoted token by its ends, and past
/// `maximumShown` errors are counted.
@Suite struct BoundedDiagnosticsTests {
  static func run(_ bytes: [UInt8]) throws -> HugeNumberTests.Spawned {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "bounded-\(UUID()).blv"
    ).path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try HugeNumberTests.spawn([path])
  }

  @Test func aFileOfNULBytesIsOneError() throws {
    let run = try Self.run([UInt8](repeating: 0, count: 20_000))
    #expect(run.status == 1)
    #expect(run.errors.split(separator: "\n").count == 3, "\(run.errors.prefix(600))")
    #expect(run.errors.contains("error: unexpected character byte 0x00"))
    #expect(run.errors.utf8.count < 1_000)
  }

  @Test func aLongLineIsEchoedAsAWindowAroundTheCaret() throws {
    let line =
      String(repeating: "x", count: 5_000) + " = 1 +* 2" + String(repeating: " + 1", count: 2_000)
    let run = try Self.run(Array(("dim n = 3\n" + line + "\n").utf8))
    #expect(run.status == 1)
    #expect(run.errors.utf8.count < 2_000, "\(run.errors.prefix(600))")
    let lines = run.errors.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let i = try #require(lines.firstIndex { $0.contains("^") })
    // The caret still points into the echoed window, and the window says it is one.
    #expect(lines[i - 1].hasPrefix("…") || lines[i - 1].hasSuffix("…"), "\(lines[i - 1])")
    #expect(lines[i].count <= lines[i - 1].count + 1)
  }

  @Test func pastTheCapErrorsAreCounted() throws {
    var text = ""
    for k in 1...30 { text += "data d\(k) = undefined_name_\(k)\n" }
    let run = try Self.run(Array(text.utf8))
    #expect(run.status == 1)
    #expect(
      run.errors.components(separatedBy: ": error: ").count - 1 == 20, "\(run.errors.suffix(300))")
    #expect(run.errors.hasSuffix("note: 10 more errors not shown\n"), "\(run.errors.suffix(300))")
  }
}
