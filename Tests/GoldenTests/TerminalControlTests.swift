import Foundation
import TestSupport
import Testing

/// Messages never send a terminal control character raw: a file name, a CSV
/// field or a REPL line with ESC or a C1 control is shown escaped.
@Suite struct TerminalControlTests {
  struct Spawned {
    let output: [UInt8]
    let errors: [UInt8]
    let status: Int32
  }

  static func spawn(
    _ arguments: [String], in directory: String, input: String = "", memoryKB: Int? = nil
  ) throws -> Spawned {
    let run = try ExecutableTests.spawn(
      arguments, in: directory, input: input, memoryKB: memoryKB)
    return Spawned(output: Array(run.out.utf8), errors: Array(run.err.utf8), status: run.status)
  }

  /// Raw control bytes in `bytes`: C0 but tab and newline, DEL, and C1
  /// (U+0080-U+009F, encoded C2 80 to C2 9F).
  static func rawControls(_ bytes: [UInt8]) -> [UInt8] {
    var found: [UInt8] = []
    for (i, b) in bytes.enumerated() {
      if (b < 0x20 && b != 0x09 && b != 0x0A) || b == 0x7F { found.append(b) }
      if b == 0xC2, i + 1 < bytes.count, (0x80...0x9F).contains(bytes[i + 1]) {
        found.append(bytes[i + 1])
      }
    }
    return found
  }

  static func directory(_ name: String) throws -> String {
    let path =
      NSTemporaryDirectory()
      + "bilevelc-controls-\(ProcessInfo.processInfo.processIdentifier)-\(name)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  @Test func fileNameWithEscapeIsEscaped() throws {
    let dir = try Self.directory("name")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let name = "bad\u{1B}]0;title\u{07}\u{9B}31m.blv"
    try "dim n = $\n".write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
    let run = try Self.spawn(["check", name], in: dir)
    #expect(run.status == 1)
    #expect(Self.rawControls(run.errors).isEmpty, "raw \(Self.rawControls(run.errors))")
    let text = String(decoding: run.errors, as: UTF8.self)
    #expect(text.hasPrefix("bad\\x1b]0;title\\x07\\u{9b}31m.blv:1:9: error:"), "\(text)")
  }

  @Test func csvFieldWithEscapeIsEscaped() throws {
    let dir = try Self.directory("csv")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try "1,2\n3,\u{1B}[2J\u{9B}x\n".write(toFile: dir + "/x.csv", atomically: true, encoding: .utf8)
    try "data X = csv(\"x.csv\")\n".write(toFile: dir + "/p.blv", atomically: true, encoding: .utf8)
    let run = try Self.spawn(["check", "p.blv"], in: dir)
    #expect(run.status == 1)
    #expect(Self.rawControls(run.errors).isEmpty, "raw \(Self.rawControls(run.errors))")
    let text = String(decoding: run.errors, as: UTF8.self)
    #expect(
      text.contains("x.csv:2:3: error: expected a number, found '\\x1b[2J\\u{9b}x'"), "\(text)")
    // The echoed line is escaped too, and the caret stays under the field.
    #expect(text.contains("\n3,\\x1b[2J\\u{9b}x\n  ^~~~~~~~~~~~~~\n"), "\(text)")
  }

  @Test func replEchoAndErrorsAreEscaped() throws {
    let dir = try Self.directory("repl")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let run = try Self.spawn(["repl"], in: dir, input: "1 + \u{1B}[31m\u{9B}2\n")
    #expect(Self.rawControls(run.output).isEmpty, "raw \(Self.rawControls(run.output))")
    #expect(Self.rawControls(run.errors).isEmpty, "raw \(Self.rawControls(run.errors))")
    #expect(String(decoding: run.output, as: UTF8.self).contains("> 1 + \\x1b[31m\\u{9b}2\n"))
    #expect(String(decoding: run.errors, as: UTF8.self).contains("<repl>:1:5: error:"))
  }

  /// `:grad` over 300 lets, each using the previous twice: printing the
  /// derivative used to write the expression out in full before checking
  /// its length (2^300 terms); now it is linear, so it fits in 2 GB.
  @Test func gradOverALongChainOfLets() throws {
    let dir = try Self.directory("chain")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var lines = ["inner x: scalar = 0.5", "let l0 = x"]
    for i in 1...300 { lines.append("let l\(i) = sin(l\(i - 1)) * l\(i - 1) + 0.1") }
    lines.append(":grad l300 wrt x")
    let run = try Self.spawn(
      ["repl"], in: dir, input: lines.joined(separator: "\n") + "\n", memoryKB: 2_000_000)
    #expect(run.status == 0)
    let output = String(decoding: run.output, as: UTF8.self)
    #expect(output.contains("\nvalue: "), "\(output.suffix(300))")
  }
}
