import Foundation
import TestSupport
import Testing

/// Every sample program and REPL session against its golden transcript.
@Suite struct SampleTranscriptTests {
  static let programs = PackagePaths.files(under: PackagePaths.samples, withExtension: "blv")
    .filter { !$0.contains("/errors/") }
  static let sessions = PackagePaths.files(
    under: PackagePaths.samples + "/repl", withExtension: "repl")

  @Test(arguments: programs.map { String($0.dropFirst(PackagePaths.samples.count + 1)) })
  func program(_ relative: String) {
    let path = PackagePaths.samples + "/" + relative
    let directory = (path as NSString).deletingLastPathComponent
    let name = (path as NSString).lastPathComponent
    let expected = String(path.dropLast(4)) + ".expected"
    let commands = Golden.commands(
      in: expected,
      defaults: [
        "bilevelc --emit graph \(name)", "bilevelc explain \(name)", "bilevelc \(name)",
      ])
    let outcome = Golden.check(
      expectedPath: expected, actual: Golden.transcript(commands, in: directory))
    #expect(outcome.matches, Comment(rawValue: outcome.message))
  }

  @Test(arguments: sessions.map { String($0.dropFirst(PackagePaths.samples.count + 1)) })
  func replSession(_ relative: String) {
    let path = PackagePaths.samples + "/" + relative
    let directory = (path as NSString).deletingLastPathComponent
    let name = (path as NSString).lastPathComponent
    let expected = String(path.dropLast(5)) + ".expected"
    let outcome = Golden.check(
      expectedPath: expected,
      actual: Golden.transcript(["bilevelc repl < \(name)"], in: directory))
    #expect(outcome.matches, Comment(rawValue: outcome.message))
  }

  @Test func everySampleHasAGoldenFile() {
    for p in Self.programs {
      #expect(
        FileManager.default.fileExists(atPath: String(p.dropLast(4)) + ".expected"),
        "\(p) has no .expected")
    }
  }
}
