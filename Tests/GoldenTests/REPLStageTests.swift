import TestSupport
import Testing

/// The REPL runs a file's stages, so options that change them change it too.
@Suite struct REPLStageTests {
  static func simplified(_ arguments: [String]) -> String {
    let run = DriverRunner.run(
      arguments + ["repl"], in: PackagePaths.samples,
      input: ["data v = [1, 2]", ":simplify log(exp(v))"])
    return run.output.split(separator: "\n").first { $0.hasPrefix("simplified:") }.map(String.init)
      ?? run.transcript
  }

  @Test func unsafeMathRewritesAsItDoesForFiles() {
    #expect(Self.simplified([]) == "simplified: log(exp(v))")
    #expect(Self.simplified(["--unsafe-math"]) == "simplified: v")
  }
}
