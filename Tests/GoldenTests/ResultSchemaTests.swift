import Foundation
import TestSupport
import Testing

/// grammar/result.schema.json against real outputs: `--json`, `--save`'s
/// result.json and `grad --json` of samples of each kind (bilevel, with
/// tasks, single level, with reports, a fault), and the validator itself
/// against documents that break the schema.
@Suite struct ResultSchemaTests {
  static let schemaPath = PackagePaths.root + "/grammar/result.schema.json"

  static func validator() throws -> JSONSchemaValidator {
    JSONSchemaValidator(
      schema: try JSONTree.parse(try String(contentsOfFile: schemaPath, encoding: .utf8)))
  }

  static func temporary(_ name: String) -> String {
    NSTemporaryDirectory() + "bilevelc-schema-\(ProcessInfo.processInfo.processIdentifier)-\(name)"
  }

  /// (arguments before the file, the file, the directory, expected status)
  static let runs: [([String], String, String, Int32)] = [
    ([], "quickstart.blv", PackagePaths.samples, 0),
    ([], "report_classifier.blv", PackagePaths.samples, 0),
    (
      ["--outer", "adam(lr: 0.01, steps: 2)", "--trace-values"], "anil_head.blv",
      PackagePaths.samples, 0
    ),
    ([], "stackelberg_forward.blv", PackagePaths.samples, 0),
    ([], "ridge_prior_proxy.blv", PackagePaths.samples, 0),
    ([], "log_of_negative.blv", PackagePaths.samples + "/errors/numerics", 1),
  ]

  @Test(arguments: runs.indices)
  func solveOutputsMatchTheSchema(_ k: Int) throws {
    let (extra, file, directory, status) = Self.runs[k]
    let json = Self.temporary("\(k).json"), save = Self.temporary("\(k)-save")
    defer {
      try? FileManager.default.removeItem(atPath: json);
      try? FileManager.default.removeItem(atPath: save)
    }
    let run = DriverRunner.run(extra + ["--json", json, "--save", save, file], in: directory)
    #expect(run.status == status, "\(file): \(run.errors)")
    let v = try Self.validator()
    for path in [json, save + "/result.json"] where status == 0 || path == json {
      let tree = try JSONTree.parse(try String(contentsOfFile: path, encoding: .utf8))
      let errors = v.validate(tree)
      #expect(errors.isEmpty, "\(file) \(path): \(errors.prefix(5))")
    }
  }

  @Test(arguments: [
    "quickstart.blv", "anil_head.blv", "report_metrics.blv", "grad_overrides.blv",
    "ridge_prior_proxy.blv",
  ])
  func gradOutputMatchesTheSchema(_ file: String) throws {
    let json = Self.temporary("grad-\(file).json")
    defer { try? FileManager.default.removeItem(atPath: json) }
    let run = DriverRunner.run(["grad", "--json", json, file], in: PackagePaths.samples)
    #expect(run.status == 0, "\(run.errors)")
    let errors = try Self.validator().validate(
      try JSONTree.parse(try String(contentsOfFile: json, encoding: .utf8)))
    #expect(errors.isEmpty, "\(file): \(errors.prefix(5))")
  }

  /// The validator fails documents that break the schema, naming the place.
  @Test func brokenDocumentsAreCaught() throws {
    let json = Self.temporary("broken.json")
    defer { try? FileManager.default.removeItem(atPath: json) }
    #expect(
      DriverRunner.run(["grad", "--json", json, "quickstart.blv"], in: PackagePaths.samples).status
        == 0)
    guard
      case .object(let good) = try JSONTree.parse(try String(contentsOfFile: json, encoding: .utf8))
    else {
      Issue.record("not an object")
      return
    }
    let v = try Self.validator()
    #expect(v.validate(.object(good)).isEmpty)
    var missing = good
    missing["fault"] = nil
    #expect(v.validate(.object(missing)).contains { $0.contains("missing fault") })
    var wrongType = good
    wrongType["outer_loss"] = .string("0.5")
    #expect(v.validate(.object(wrongType)).contains { $0.contains("$.outer_loss") })
    var wrongVersion = good
    wrongVersion["schema_version"] = .integer(2)
    #expect(!v.validate(.object(wrongVersion)).isEmpty)
    var extra = good
    extra["surprise"] = .bool(true)
    #expect(v.validate(.object(extra)).contains { $0.contains("unexpected property surprise") })
    var badTensor = good
    badTensor["hypergradient"] = .object([
      "x": .object(["shape": .array([.number(1.5)]), "values": .array([])])
    ])
    #expect(v.validate(.object(badTensor)).contains { $0.contains("$.hypergradient.x.shape[0]") })
    #expect(
      JSONSchemaValidator(schema: .object(["minimum": .integer(0)])).validate(.integer(1)).first?
        .contains("unsupported") == true)
  }
}
