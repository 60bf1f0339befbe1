import Foundation
import TestSupport
import Testing

/// A scratch folder holding quickstart.blv, and the built `bilevelc` spawned
/// in it (optionally through /bin/sh, to close or redirect its streams).
final class Scratch {
  let directory: String

  init(_ name: String) throws {
    directory =
      NSTemporaryDirectory()
      + "bilevelc-\(name)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try FileManager.default.copyItem(
      atPath: PackagePaths.samples + "/quickstart.blv", toPath: directory + "/quickstart.blv")
  }

  deinit { try? FileManager.default.removeItem(atPath: directory) }

  func path(_ name: String) -> String { directory + "/" + name }

  func write(_ name: String, _ text: String) throws {
    let full = path(name)
    try FileManager.default.createDirectory(
      atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try text.write(toFile: full, atomically: false, encoding: .utf8)
  }

  func read(_ name: String) -> String? {
    FileManager.default.contents(atPath: path(name)).map { String(decoding: $0, as: UTF8.self) }
  }

  /// Every path under the folder, relative to it.
  var files: Set<String> { Set(FileManager.default.subpaths(atPath: directory) ?? []) }

  /// Runs bilevelc with `arguments`; `redirect` (as `>&-` or `> /dev/full`) goes to /bin/sh.
  func run(
    _ arguments: [String], redirect: String? = nil
  ) throws -> (
    out: String, err: String, status: Int32
  ) {
    guard let redirect else { return try ExecutableTests.spawn(arguments, in: directory) }
    let out = path(".stdout"), err = path(".stderr")
    FileManager.default.createFile(atPath: out, contents: nil)
    FileManager.default.createFile(atPath: err, contents: nil)
    defer {
      try? FileManager.default.removeItem(atPath: out)
      try? FileManager.default.removeItem(atPath: err)
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments =
      ["-c", "exec \"$0\" \"$@\" \(redirect)", ISAPathSampleTests.executable] + arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
    try process.run()
    process.waitUntilExit()
    return (read(".stdout") ?? "", read(".stderr") ?? "", process.terminationStatus)
  }
}

/// Output files: refused before any work when they would replace what is
/// not a regular file, overwrite the program or its data, or be named
/// twice; otherwise written atomically with an existing file's mode kept.
@Suite(.serialized) struct OutputSafetyTests {
  static let file = "quickstart.blv"

  /// A refused output: exit 2, one error naming it, no results printed
  /// (no work done) and nothing new in the folder.
  func expectRefused(
    _ scratch: Scratch, _ arguments: [String], _ message: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let before = scratch.files
    let run = try scratch.run(arguments + [Self.file])
    #expect(run.status == 2, "\(run.err)", sourceLocation: sourceLocation)
    #expect(run.err.contains(message), "\(run.err)", sourceLocation: sourceLocation)
    #expect(run.out.isEmpty, "\(run.out)", sourceLocation: sourceLocation)
    #expect(
      scratch.files == before, "wrote \(scratch.files.subtracting(before))",
      sourceLocation: sourceLocation)
  }

  @Test func aSymbolicLinkIsNotReplaced() throws {
    let s = try Scratch("out-link")
    try s.write("real.json", "keep")
    try FileManager.default.createSymbolicLink(
      atPath: s.path("link.json"), withDestinationPath: "real.json")
    try expectRefused(s, ["--json", "link.json"], "--json 'link.json' is a symbolic link")
    #expect(s.read("real.json") == "keep")
    let kind = try FileManager.default.attributesOfItem(atPath: s.path("link.json"))[.type]
    #expect(kind as? FileAttributeType == .typeSymbolicLink)
  }

  @Test func aFIFODeviceOrDirectoryIsNotReplaced() throws {
    let s = try Scratch("out-kinds")
    #expect(mkfifo(s.path("fifo"), 0o600) == 0)
    try FileManager.default.createDirectory(
      atPath: s.path("dir.csv"), withIntermediateDirectories: false)
    try expectRefused(s, ["--trace", "fifo"], "--trace 'fifo' is a FIFO")
    try expectRefused(s, ["--trace", "dir.csv"], "--trace 'dir.csv' is a directory")
    try expectRefused(s, ["--json", "/dev/null"], "--json '/dev/null' is a device")
    try s.write("plain", "x")
    try expectRefused(
      s, ["--save", "plain"], "--save 'plain' is a regular file; it must be a folder")
  }

  @Test func theProgramAndItsDataAreNotOverwritten() throws {
    let s = try Scratch("out-inputs")
    let program = s.read(Self.file)
    try expectRefused(s, ["--json", Self.file], "--json 'quickstart.blv' is the input program")
    try expectRefused(s, ["--trace", "./" + Self.file], "is the input program")
    #expect(s.read(Self.file) == program)
    try s.write("x.csv", "1,2\n3,4\n")
    try s.write(
      "d.blv",
      "data X = csv(\"x.csv\")\nouter a: scalar = 1\nouter loss = a^2 + sum(X)\nsolve outer with gd(lr: 0.1, steps: 2)\n"
    )
    let run = try s.run(["--json", "x.csv", "d.blv"])
    #expect(
      run.status == 2 && run.err.contains("--json 'x.csv' is a data file the program reads"),
      "\(run.err)")
    #expect(run.out.isEmpty)
    #expect(s.read("x.csv") == "1,2\n3,4\n")
  }

  @Test func onePathGivenTwiceIsRefused() throws {
    let s = try Scratch("out-twice")
    try expectRefused(s, ["--json", "a", "--trace", "a"], "--json and --trace both name 'a'")
    try expectRefused(
      s, ["--json", "a", "--plot", "./a.svg", "--trace", "a.svg"],
      "--trace and --plot both name './a.svg'")
    try expectRefused(
      s, ["--json", "out/result.json", "--save", "out"], "cannot write --json 'out/result.json'")
    try FileManager.default.createDirectory(
      atPath: s.path("out"), withIntermediateDirectories: false)
    try expectRefused(
      s, ["--json", "out/result.json", "--save", "out"],
      "--json and --save both name 'out/result.json'")
    try expectRefused(
      s, ["--json", "out/w.npy", "--save", "out"], "--json and --save both name 'out/w.npy'")
  }

  @Test func aMissingOrUnwritableFolderCostsNothing() throws {
    let s = try Scratch("out-folder")
    try expectRefused(s, ["--json", "nowhere/r.json"], "its folder")
    try FileManager.default.createDirectory(
      atPath: s.path("ro"), withIntermediateDirectories: false)
    chmod(s.path("ro"), 0o500)
    defer { chmod(s.path("ro"), 0o700) }
    if getuid() != 0 { try expectRefused(s, ["--trace", "ro/t.csv"], "is not writable") }
  }

  @Test func anExistingFileKeepsItsModeAndNoTemporaryFileIsLeft() throws {
    let s = try Scratch("out-mode")
    try s.write("r.json", "old")
    try s.write("t.csv", "old")
    chmod(s.path("r.json"), 0o640)
    chmod(s.path("t.csv"), 0o604)
    let run = try s.run(["--json", "r.json", "--trace", "t.csv", "--save", "out", Self.file])
    #expect(run.status == 0, "\(run.err)")
    let mode = { (name: String) in
      (try FileManager.default.attributesOfItem(atPath: s.path(name))[.posixPermissions] as? Int)
        ?? -1
    }
    #expect(try mode("r.json") == 0o640)
    #expect(try mode("t.csv") == 0o604)
    #expect(s.read("r.json")?.hasPrefix("{") == true)
    #expect(s.read("t.csv")?.hasPrefix("step,") == true)
    #expect(
      s.files == [
        Self.file, "r.json", "t.csv", "out", "out/result.json", "out/loglam.npy", "out/w.npy",
      ])
  }
}
