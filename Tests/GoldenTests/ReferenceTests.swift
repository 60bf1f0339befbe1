import BilevelCore
import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

/// grammar/REFERENCE.md is `bilevelc help all`, generated from the op table
/// and the solver catalogue; this suite fails when they disagree.
@Suite struct ReferenceTests {
  static let path = PackagePaths.grammar + "/REFERENCE.md"

  static func help(_ topic: String) -> DriverRunner.Run {
    DriverRunner.run(["help", topic], in: PackagePaths.root)
  }

  @Test func referenceFileMatchesTheTables() throws {
    let generated = Self.help("all")
    #expect(generated.status == 0)
    if Golden.updating {
      try generated.output.write(toFile: Self.path, atomically: true, encoding: .utf8)
      Issue.record("rewrote grammar/REFERENCE.md; rerun without BILEVELC_UPDATE_GOLDEN")
      return
    }
    let file = try String(contentsOfFile: Self.path, encoding: .utf8)
    #expect(
      file == generated.output,
      "grammar/REFERENCE.md differs from `bilevelc help all`; BILEVELC_UPDATE_GOLDEN=1 swift test rewrites it"
    )
  }

  @Test func everyBuiltinIsListedWithItsKinkConvention() {
    let text = Self.help("functions").output
    for s in Builtins.signatures {
      #expect(
        text.contains("| `\(s.usage.replacingOccurrences(of: "|", with: "\\|"))"),
        "\(s.name) missing")
    }
    for f in UnaryFunction.allCases where f.kinkConvention != nil {
      #expect(text.contains(f.kinkConvention!), "\(f) kink convention missing")
    }
    for f in BinaryFunction.allCases where f.kinkConvention != nil {
      #expect(text.contains(f.kinkConvention!), "\(f) kink convention missing")
    }
    // What a new user tried: step, sign, min, max(a, b) and argmax exist.
    #expect(
      text.contains("`step(x)`") && text.contains("`sign(x)`") && text.contains("`min(")
        && text.contains("max(a, b)") && text.contains("`argmax("))
  }

  @Test func everySettingIsListedWithItsDefaultAndRange() {
    let text = Self.help("settings").output
    for schema in SolverCatalogue.all {
      #expect(
        text.contains("### \(schema.name) (\(schema.role.rawValue))"), "\(schema.name) missing")
      for s in schema.settings {
        #expect(text.contains("| `\(s.name)"), "\(schema.name).\(s.name) missing")
        #expect(
          text.contains(s.meaning.replacingOccurrences(of: "|", with: "\\|")),
          "\(schema.name).\(s.name) meaning missing")
      }
    }
    #expect(text.contains("| `tol` | number | 1e-10 | > 0 | stop when ‖∇θ L_in‖ ≤ tol |"))
    #expect(text.contains("| `beta1` | number | 0.9 | 0 ≤ x < 1 |"))
  }

  @Test func solversAndMethodsSections() {
    let solvers = Self.help("solvers").output
    for s in SolverCatalogue.schemas(.inner) + SolverCatalogue.schemas(.outer) {
      #expect(solvers.contains(s.summary))
    }
    #expect(solvers.contains("`gd(lr: …, steps: …)`"))
    let methods = Self.help("methods").output
    for s in SolverCatalogue.schemas(.method) { #expect(methods.contains(s.summary)) }
    #expect(methods.contains("`implicit(cg\\|neumann\\|exact)`"))
  }

  @Test func unknownTopicIsAUsageError() {
    let run = Self.help("fuctions")
    #expect(run.status == 2)
    #expect(
      run.errors.contains(
        "unknown help topic 'fuctions'; expected functions, solvers, methods, settings, all"))
  }

  @Test func readmeLinksStayInsideTheRepositoryAndCiteTheSurvey() throws {
    let readme = try String(contentsOfFile: PackagePaths.root + "/README.md", encoding: .utf8)
    let flowing = readme.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    #expect(flowing.contains("[grammar/REFERENCE.md](grammar/REFERENCE.md)"))
    #expect(
      flowing.contains(
        "\"Gradient-based Bi-level Optimization for Deep Learning: A Survey\" by Can Chen, Xi Chen, Chen Ma, Zixuan Liu and Xue Liu (arXiv 2207.11719)"
      ))
    // Every markdown link target and every path written as `../…` stays in the clone.
    var rest = readme[...]
    while let open = rest.range(of: "](") {
      let after = rest[open.upperBound...]
      let target = after.prefix { $0 != ")" }
      #expect(
        !target.contains("://") && !target.hasPrefix("/") && !target.hasPrefix(".."),
        "README links outside: \(target)")
      if !target.contains("#") {
        #expect(
          FileManager.default.fileExists(atPath: PackagePaths.root + "/" + target),
          "README link to a missing file: \(target)")
      }
      rest = after
    }
    #expect(!readme.contains("../shared"), "README points at a file outside the repository")
  }

  @Test func outOfRangeSettingIsALocatedError() {
    let dir = NSTemporaryDirectory() + "bilevelc-range-\(ProcessInfo.processInfo.processIdentifier)"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let program = """
      outer a: scalar = 0
      inner w: scalar = 0
      inner loss = (w - a)^2
      outer loss = (w - 1)^2
      solve inner with newton(tol: -1)
      solve outer with gd(lr: 0.1, steps: 1)

      """
    try? program.write(toFile: dir + "/p.blv", atomically: true, encoding: .utf8)
    let run = DriverRunner.run(["check", "p.blv"], in: dir)
    #expect(run.status == 1)
    #expect(
      run.errors.contains("p.blv:5:30: error: setting 'tol' of 'newton' must be > 0, not -1"),
      "\(run.errors)")
  }
}
