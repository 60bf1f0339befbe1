import Foundation
import TestSupport
import Testing

/// Data paths resolve under the program's folder; leaving it (`..`, an
/// absolute path, a symbolic link out) or naming what is not a regular file
/// is a located error saying why and how to allow it (`--data-root`).
@Suite(.serialized) struct DataPathTests {
  static func program(_ path: String) -> String {
    "data X = csv(\"\(path)\")\nouter a: scalar = 1\nouter loss = a^2 + sum(X)\nsolve outer with gd(lr: 0.1, steps: 2)\n"
  }

  /// A folder with prog/p.blv reading `path` and other/x.csv beside prog.
  static func scratch(_ path: String) throws -> Scratch {
    let s = try Scratch("data")
    try s.write("other/x.csv", "1,2\n3,4\n")
    try s.write("prog/x.csv", "1,2\n3,4\n")
    try s.write("prog/p.blv", program(path))
    return s
  }

  func expectRefused(
    _ path: String, _ reason: String, extra: [String] = [],
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let s = try Self.scratch(path)
    let run = try s.run(["check"] + extra + ["prog/p.blv"])
    #expect(run.status == 1, "\(run.err)", sourceLocation: sourceLocation)
    #expect(
      run.err.contains("prog/p.blv:1:14: error: refusing to read '\(path)': \(reason)"),
      "\(run.err)",
      sourceLocation: sourceLocation)
    #expect(!run.err.contains("no such file"), sourceLocation: sourceLocation)
    #expect(run.out.isEmpty, sourceLocation: sourceLocation)
  }

  @Test func dotDotOutOfTheProgramsFolderIsRefusedUnlessAllowed() throws {
    try expectRefused(
      "../other/x.csv", "its '..' leads outside the program's folder 'prog'")
    let s = try Self.scratch("../other/x.csv")
    let refused = try s.run(["check", "prog/p.blv"])
    #expect(refused.err.contains("give --data-root with a folder that holds it"), "\(refused.err)")
    let allowed = try s.run(["check", "--data-root", "other", "prog/p.blv"])
    #expect(allowed.status == 0, "\(allowed.err)")
    let inside = try Self.scratch("sub/../x.csv")
    try inside.write("prog/sub/.keep", "")
    #expect(try inside.run(["check", "prog/p.blv"]).status == 0)
  }

  @Test func anAbsolutePathIsRefusedUnlessUnderTheDataRoot() throws {
    let s = try Self.scratch("")
    let absolute = s.path("other/x.csv")
    try s.write("prog/p.blv", Self.program(absolute))
    let refused = try s.run(["check", "prog/p.blv"])
    #expect(refused.status == 1)
    #expect(
      refused.err.contains("refusing to read '\(absolute)': it is an absolute path outside"),
      "\(refused.err)")
    #expect(refused.err.contains("--data-root"))
    #expect(try s.run(["check", "--data-root", s.path("other"), "prog/p.blv"]).status == 0)
    let wrongRoot = try s.run(["check", "--data-root", "prog", "prog/p.blv"])
    #expect(
      wrongRoot.status == 1 && wrongRoot.err.contains("and the --data-root 'prog'"),
      "\(wrongRoot.err)")
  }

  @Test func aFIFOOrDirectoryIsRefusedWithoutBlocking() throws {
    let s = try Self.scratch("pipe")
    #expect(mkfifo(s.path("prog/pipe"), 0o600) == 0)
    let fifo = try s.run(["check", "prog/p.blv"])
    #expect(fifo.status == 1)
    #expect(
      fifo.err.contains("refusing to read 'pipe': it is a FIFO, not a regular file"), "\(fifo.err)")
    try s.write("prog/p.blv", Self.program("."))
    let directory = try s.run(["check", "prog/p.blv"])
    #expect(directory.err.contains("refusing to read '.': it is a directory"), "\(directory.err)")
  }

  @Test func aSymbolicLinkOutOfTheFolderIsRefused() throws {
    let s = try Self.scratch("link.csv")
    try FileManager.default.createSymbolicLink(
      atPath: s.path("prog/link.csv"), withDestinationPath: "../other/x.csv")
    let run = try s.run(["check", "prog/p.blv"])
    #expect(run.status == 1)
    #expect(run.err.contains("it leads through a symbolic link to '"), "\(run.err)")
    #expect(try s.run(["check", "--data-root", "other", "prog/p.blv"]).status == 0)
  }

  @Test func aMissingFileIsStillNoSuchFile() throws {
    let s = try Self.scratch("none.csv")
    let run = try s.run(["check", "prog/p.blv"])
    #expect(run.status == 1 && run.err.contains("no such file"), "\(run.err)")
  }

  /// A CSV error on a 200 KB line quotes a short window of it.
  @Test func aCSVErrorQuotesAWindowOfTheLine() throws {
    let s = try Self.scratch("x.csv")
    let good = Array(repeating: "1.5", count: 40_001).joined(separator: ",")
    let bad = Array(repeating: "1.5", count: 40_000).joined(separator: ",") + ",oops"
    try s.write("prog/x.csv", good + "\n" + bad + "\n")
    let run = try s.run(["check", "prog/p.blv"])
    #expect(run.status == 1)
    #expect(run.err.utf8.count < 2_000, "\(run.err.prefix(500))")
    #expect(run.err.contains("oops"))
  }
}
