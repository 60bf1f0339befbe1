import Foundation
import TestSupport
import Testing

/// Every sample solved by the built `bilevelc` under each ISA path the
/// machine supports (forced with BILEVELC_ISA): standard output and the
/// `--json` result (every outer variable and the hypergradient in full
/// precision) must be the same bytes.
@Suite struct ISAPathSampleTests {
  static let programs = PackagePaths.files(under: PackagePaths.samples, withExtension: "blv")
    .filter { !$0.contains("/errors/") }

  /// The paths `bilevelc --version` reports it can be forced onto.
  static let paths: [String] = ["avx2", "avx512"].filter { isa in
    run(["--version"], isa: isa, in: PackagePaths.samples).output.contains("kernels: \(isa) ")
  }

  /// `swift test` builds the executable beside the test bundle.
  static var executable: String {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let beside = bundle.appendingPathComponent("bilevelc").path
    return FileManager.default.isExecutableFile(atPath: beside)
      ? beside : PackagePaths.root + "/.build/debug/bilevelc"
  }

  static func run(
    _ arguments: [String], isa: String, in directory: String
  ) -> (output: String, status: Int32) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    var environment = ProcessInfo.processInfo.environment
    environment["BILEVELC_ISA"] = isa
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return ("cannot run \(executable)", -1) }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
      Golden.scrubMeasurements(String(decoding: data, as: UTF8.self)), process.terminationStatus
    )
  }

  @Test func theExecutableRunsOnTheAVX2Path() {
    #expect(Self.paths.contains("avx2"), "\(Self.executable) --version under BILEVELC_ISA=avx2")
  }

  @Test(arguments: programs.map { String($0.dropFirst(PackagePaths.samples.count + 1)) })
  func sampleGivesTheSameBitsOnEveryPath(_ relative: String) throws {
    let path = PackagePaths.samples + "/" + relative
    let directory = (path as NSString).deletingLastPathComponent
    let name = (path as NSString).lastPathComponent
    var results: [String: String] = [:]
    for isa in Self.paths {
      let json = NSTemporaryDirectory() + "bilevelc-isa-\(getpid())-\(isa)-\(name).json"
      defer { try? FileManager.default.removeItem(atPath: json) }
      let solved = Self.run([name, "--json", json], isa: isa, in: directory)
      let checked = Self.run(["check", name], isa: isa, in: directory)
      let result = ((try? String(contentsOfFile: json, encoding: .utf8)) ?? "(no JSON)")
        .split(separator: "\n").filter {
          !$0.contains("\"wall_time_seconds\"") && !$0.contains("\"peak_memory_bytes\"")
        }
        .joined(separator: "\n")
      results[isa] =
        "[exit \(solved.status)]\n\(solved.output)\n\(result)\n[exit \(checked.status)]\n\(checked.output)"
    }
    if let reference = results["avx2"] {
      for (isa, result) in results {
        #expect(result == reference, "\(relative): \(isa) differs from avx2")
      }
    }
  }
}
