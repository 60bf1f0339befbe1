import Foundation
import TestSupport
import Testing

/// `--plot FILE.svg`: the SVG of a sample run against samples/plots (the
/// figure the README shows, so it cannot go stale), its structure, and the
/// refusal of a name that is not .svg.
@Suite struct RunPlotTests {
  static let sample = "report_classifier"

  static func plot(
    _ file: String, _ extra: [String] = []
  ) throws -> (svg: String, run: DriverRunner.Run) {
    let path =
      NSTemporaryDirectory()
      + "bilevelc-plot-\(ProcessInfo.processInfo.processIdentifier)-\(file).svg"
    defer { try? FileManager.default.removeItem(atPath: path) }
    let run = DriverRunner.run(extra + ["--plot", path, file + ".blv"], in: PackagePaths.samples)
    return (try String(contentsOfFile: path, encoding: .utf8), run)
  }

  @Test func samplePlotMatchesItsGolden() throws {
    let (svg, run) = try Self.plot(Self.sample)
    #expect(run.status == 0, "\(run.errors)")
    let outcome = Golden.check(
      expectedPath: PackagePaths.samples + "/plots/\(Self.sample).svg", actual: svg)
    #expect(outcome.matches, Comment(rawValue: outcome.message))
  }

  /// One panel per series, each with its line; the legend names them all.
  @Test func panelsLegendAndAxes() throws {
    let (svg, _) = try Self.plot(Self.sample)
    #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.hasSuffix("</svg>\n"))
    let titles = [
      "outer loss", "hypergradient norm (log scale)", "inner residual (log scale)",
      "report test_accuracy", "report worst_logit", "report hinge",
    ]
    for t in titles {
      // Once in the legend, once over its panel.
      #expect(svg.components(separatedBy: ">\(t)</text>").count - 1 == 2, "\(t)")
    }
    #expect(svg.components(separatedBy: "<polyline").count - 1 == titles.count)
    #expect(svg.components(separatedBy: ">outer step</text>").count - 1 == titles.count)
    // 15 outer steps: 16 points per line.
    #expect(svg.components(separatedBy: "<circle").count - 1 == 16 * titles.count)
    #expect(
      svg.contains(">1e-3</text>") && svg.contains(">1e-17</text>"),
      "decade labels on the residual's log axis")
    #expect(svg.components(separatedBy: "<g>").count == svg.components(separatedBy: "</g>").count)
  }

  /// A single-level program has no inner residual panel.
  @Test func singleLevelHasNoResidualPanel() throws {
    let directory =
      NSTemporaryDirectory() + "bilevelc-plot-single-\(ProcessInfo.processInfo.processIdentifier)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let program =
      "data X = randn(20, 3, seed: 1)\ndata y = X @ [1, -2, 0.5]\nouter w: vector[3] = 0\n"
      + "outer loss = mean((X @ w - y)^2)\nsolve outer with gd(lr: 0.1, steps: 5)\n"
    try program.write(toFile: directory + "/single.blv", atomically: true, encoding: .utf8)
    let run = DriverRunner.run(["--plot", "single.svg", "single.blv"], in: directory)
    #expect(run.status == 0, "\(run.errors)")
    let svg = try String(contentsOfFile: directory + "/single.svg", encoding: .utf8)
    #expect(svg.contains(">gradient norm (log scale)</text>") && !svg.contains("inner residual"))
  }

  @Test func aNameThatIsNotSVGIsAUsageError() {
    let run = DriverRunner.run(
      ["--plot", "/tmp/x.png", "quickstart.blv"], in: PackagePaths.samples)
    #expect(run.status == 2)
    #expect(run.errors.contains("--plot writes SVG"))
    #expect(!FileManager.default.fileExists(atPath: "/tmp/x.png"))
  }
}
