import Foundation
import TestSupport
import Testing

/// Invalid programs under samples/errors/: each must produce exactly the
/// diagnostics its `#!` annotations name, every one with a line and column,
/// and exit 1 (or 0 when it expects only warnings).
@Suite struct ErrorCorpusTests {
  static let files = PackagePaths.files(
    under: PackagePaths.samples + "/errors", withExtension: "blv")

  @Test(arguments: files.map { String($0.dropFirst(PackagePaths.samples.count + 1)) })
  func diagnostics(_ relative: String) throws {
    let path = PackagePaths.samples + "/" + relative
    let directory = (path as NSString).deletingLastPathComponent
    let name = (path as NSString).lastPathComponent
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let expected = ExpectedDiagnostics.expectations(in: text, file: name)
    #expect(!expected.isEmpty, "\(relative) has no #! annotations")
    // Numerical trouble shows when the program runs; everything else at check.
    let command = relative.hasPrefix("errors/numerics/") ? [name] : ["check", name]
    let run = DriverRunner.run(command, in: directory)
    let (actual, unlocated) = ExpectedDiagnostics.actuals(in: run.errors)
    let problems = ExpectedDiagnostics.verify(
      expected: expected, actual: actual, unlocated: unlocated)
    #expect(
      problems.isEmpty,
      Comment(rawValue: problems.joined(separator: "\n") + "\n--- output:\n" + run.errors))
    let expectsError = expected.contains { $0.severity == "error" }
    #expect(run.status == (expectsError ? 1 : 0), "exit status \(run.status)")
    // The rendered form (lines, carets, notes) is golden too, byte for byte.
    let golden = String(path.dropLast(4)) + ".expected"
    let outcome = Golden.check(
      expectedPath: golden,
      actual: Golden.transcript(["bilevelc " + command.joined(separator: " ")], in: directory))
    #expect(outcome.matches, Comment(rawValue: outcome.message))
  }

  @Test func corpusCoversEveryCategory() {
    for category in ["syntax", "names", "shapes", "structure", "solvers", "data", "numerics"] {
      #expect(
        Self.files.contains { $0.contains("/errors/\(category)/") }, "no error case in \(category)")
    }
    #expect(Self.files.count >= 40, "only \(Self.files.count) error cases")
  }
}
