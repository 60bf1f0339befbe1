import Foundation
import TestSupport
import Testing

/// grad, overrides, --save and --resume as a researcher uses them, read
/// back as a script would.
@Suite struct ResultWorkflowTests {
  static func temporary(_ name: String) -> String {
    let d =
      NSTemporaryDirectory()
      + "bilevelc-workflow-\(ProcessInfo.processInfo.processIdentifier)-\(name)"
    try? FileManager.default.removeItem(atPath: d)
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
  }

  static func field(_ text: String, _ name: String) -> String? {
    guard let r = text.range(of: "\"\(name)\": ") else { return nil }
    return String(text[r.upperBound...].prefix { $0 != "," && $0 != "\n" })
  }

  /// A run stopped after k outer steps (the file's outer solver with fewer
  /// steps) and resumed reaches the uninterrupted run's bits: Adam's moments
  /// and count (quickstart), the box (poisoning_box with gd), both
  /// (dictionary_auto), the carried inner state of a warm start (darts_alternating_second_order).
  @Test(arguments: [
    ("quickstart.blv", "adam(lr: 0.1, steps: 15)"), ("poisoning_box.blv", "gd(lr: 0.5, steps: 7)"),
    ("dictionary_auto.blv", "adam(lr: 0.02, steps: 20)"),
    // A warm start: the carried inner state is resumed too.
    ("darts_alternating_second_order.blv", "adam(lr: 0.03, steps: 70)"),
  ])
  func resumedRunMatchesTheUninterruptedOneBitForBit(_ sample: String, _ shortened: String) throws {
    let d = Self.temporary("resume-\(sample)")
    defer { try? FileManager.default.removeItem(atPath: d) }
    let whole = DriverRunner.run(["--json", d + "/whole.json", sample], in: PackagePaths.samples)
    #expect(whole.status == 0, "\(whole.errors)")
    let text = try String(contentsOfFile: d + "/whole.json", encoding: .utf8)
    let first = DriverRunner.run(
      ["--outer", shortened, "--json", d + "/part.json", sample], in: PackagePaths.samples)
    #expect(first.status == 0, "\(first.errors)")
    let resumed = DriverRunner.run(
      ["--resume", d + "/part.json", "--json", d + "/resumed.json", sample],
      in: PackagePaths.samples)
    #expect(resumed.status == 0, "\(resumed.errors)")
    #expect(resumed.output.contains("resumed from outer step"))
    let again = try String(contentsOfFile: d + "/resumed.json", encoding: .utf8)
    #expect(Self.field(again, "final_outer_loss") == Self.field(text, "final_outer_loss"))
    let values = { (s: String) in
      s.range(of: "\"outer_variables\"").map { String(s[$0.lowerBound...].prefix(4000)) }
    }
    let a = values(text)?.components(separatedBy: "\"inner_variables\"").first
    let b = values(again)?.components(separatedBy: "\"inner_variables\"").first
    #expect(a != nil && a == b, "the outer variables differ after resuming")
    let stepsPart = try #require(
      Self.field(try String(contentsOfFile: d + "/part.json", encoding: .utf8), "outer_steps"))
    #expect(Self.field(again, "first_outer_step") == stepsPart)
  }

  @Test func resumeRefusesARunOfAnotherProgram() throws {
    let d = Self.temporary("refuse")
    defer { try? FileManager.default.removeItem(atPath: d) }
    #expect(
      DriverRunner.run(["--json", d + "/q.json", "quickstart.blv"], in: PackagePaths.samples).status
        == 0)
    let run = DriverRunner.run(
      ["--resume", d + "/q.json", "poisoning_box.blv"], in: PackagePaths.samples)
    #expect(run.status == 1)
    #expect(
      run.errors.contains(
        "cannot resume from \(d)/q.json: it was run with the outer solver adam, this program uses gd"
      ), "\(run.errors)")
    let missing = DriverRunner.run(
      ["--resume", d + "/none.json", "quickstart.blv"], in: PackagePaths.samples)
    #expect(missing.status == 2)
  }

  /// --save writes one .npy per variable: version 1.0 header padded to 64
  /// bytes, the JSON's shape, 8 bytes a value.
  @Test func saveWritesEveryVariableAsNPY() throws {
    let d = Self.temporary("save")
    defer { try? FileManager.default.removeItem(atPath: d) }
    let run = DriverRunner.run(
      ["--save", d + "/out", "maml_sinusoid.blv"], in: PackagePaths.samples)
    #expect(run.status == 0, "\(run.errors)")
    let files = try FileManager.default.contentsOfDirectory(atPath: d + "/out").sorted()
    #expect(files == ["A.npy", "V.npy", "W.npy", "b.npy", "result.json"], "\(files)")
    let json = try #require(
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: d + "/out/result.json"))) as? [String: Any])
    let outer = try #require(json["outer_variables"] as? [String: [String: Any]])
    for (name, entry) in outer {
      let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: d + "/out/\(name).npy")))
      let header = String(
        decoding: bytes[10..<(10 + Int(bytes[8]) + 256 * Int(bytes[9]))], as: UTF8.self)
      let shape = (entry["shape"] as? [Int]) ?? []
      let tuple =
        shape.count == 1
        ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
      #expect(header.contains("'shape': \(tuple)"), "\(name): \(header)")
      #expect((10 + header.utf8.count) % 64 == 0, "the header is padded to 64 bytes")
      let values = (entry["values"] as? [Double]) ?? []
      let data = bytes[(10 + header.utf8.count)...]
      #expect(data.count == 8 * values.count)
    }
    let inner = try #require(json["inner_variables"] as? [String: [String: Any]])
    #expect(
      inner["V"]?["shape"] as? [Int] == [5, 1, 40],
      "V[t]: matrix[1, h], with a leading axis of 5 tasks")
  }

  @Test func gradAtTheInitialPointWithOverrides() throws {
    let d = Self.temporary("grad")
    defer { try? FileManager.default.removeItem(atPath: d) }
    let run = DriverRunner.run(
      [
        "grad", "--method", "implicit(exact)", "--inner", "gd(lr: 0.05, steps: 2000)", "--json",
        d + "/g.json",
        "ridge_closed_form.blv",
      ], in: PackagePaths.samples)
    #expect(run.status == 0, "\(run.errors)")
    #expect(run.output.contains("hypergradient by implicit(exact"), "\(run.output)")
    let closed = DriverRunner.run(
      ["grad", "--json", d + "/c.json", "ridge_closed_form.blv"], in: PackagePaths.samples)
    #expect(closed.status == 0, "\(closed.errors)")
    func gradient(_ path: String) throws -> [Double] {
      let json = try #require(
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
          as? [String: Any])
      let g = try #require(json["hypergradient"] as? [String: [String: Any]])
      return g.keys.sorted().flatMap { (g[$0]?["values"] as? [Double]) ?? [] }
    }
    // Implicit differentiation of a tightly solved ridge inner problem against its closed form.
    let a = try gradient(d + "/g.json"), b = try gradient(d + "/c.json")
    #expect(a.count == b.count && !a.isEmpty)
    for (x, y) in zip(a, b) { #expect(abs(x - y) <= 1e-6 * max(1, abs(y)), "\(x) vs \(y)") }
  }

  @Test func gradPerTaskPartsSumToTheHypergradient() throws {
    let d = Self.temporary("tasks")
    defer { try? FileManager.default.removeItem(atPath: d) }
    let run = DriverRunner.run(
      ["grad", "--json", d + "/g.json", "maml_sinusoid.blv"], in: PackagePaths.samples)
    #expect(run.status == 0, "\(run.errors)")
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/g.json")))
        as? [String: Any])
    let total = try #require(json["hypergradient"] as? [String: [String: Any]])
    let explicit = try #require(json["explicit_gradient"] as? [String: [String: Any]])
    let tasks = try #require(json["tasks"] as? [[String: [String: Any]]])
    #expect(tasks.count == 5)
    for name in total.keys {
      let g = (total[name]?["values"] as? [Double]) ?? []
      var sum = (explicit[name]?["values"] as? [Double]) ?? []
      for t in tasks {
        for (k, v) in ((t[name]?["values"] as? [Double]) ?? []).enumerated() { sum[k] += v }
      }
      for (x, y) in zip(g, sum) {
        #expect(abs(x - y) <= 1e-12 * max(1, abs(x)), "\(name): \(x) vs \(y)")
      }
    }
  }

  @Test func overrideErrorsPointIntoTheOverrideText() {
    let method = DriverRunner.run(
      ["grad", "--method", "implicit(cg, itres: 5)", "quickstart.blv"], in: PackagePaths.samples)
    #expect(method.status == 1)
    #expect(method.errors.hasPrefix("--method:1:14: error: "), "\(method.errors)")
    #expect(
      method.errors.contains("implicit(cg, itres: 5)\n             ^~~~~"), "\(method.errors)")
    let set = DriverRunner.run(["grad", "--set", "d=", "quickstart.blv"], in: PackagePaths.samples)
    #expect(set.status == 1)
    #expect(set.errors.hasPrefix("--set:1:3: error: expected an expression"), "\(set.errors)")
    let matrix = DriverRunner.run(
      ["grad", "--set", "X=1", "quickstart.blv"], in: PackagePaths.samples)
    #expect(
      matrix.errors.hasPrefix(
        "--set:1:1: error: --set changes a 'dim' or a scalar 'data'; data 'X' is matrix[200, 20]"),
      "\(matrix.errors)")
    // A dim changes every shape that uses it, checked as if written in the file.
    let dim = DriverRunner.run(
      ["grad", "--set", "d=5", "quickstart.blv"], in: PackagePaths.samples)
    #expect(dim.status == 0, "\(dim.errors)")
    let inner = DriverRunner.run(
      ["grad", "--inner", "gd(lr: 0.05, steps: 0)", "quickstart.blv"], in: PackagePaths.samples)
    #expect(inner.status == 1)
    #expect(inner.errors.hasPrefix("--inner:1:"), "\(inner.errors)")
  }
}

/// `report NAME = EXPR`: a report that restates the outer loss gives the
/// trace's outer loss at every step, through its own plan.
@Suite struct ReportTests {
  static let program = """
    # Metrics beside the losses: a held-out loss on a third split, the model's
    # norm and the penalty, evaluated at the start, every outer step and the end
    # (the trace, --json), never differentiated. Ridge as in quickstart.
    dim n = 120, nv = 60, nt = 60, d = 10

    data X  = randn(n, d, seed: 21)
    data wt = randn(d, seed: 22)
    data y  = X @ wt + 0.5 * randn(n, seed: 23)
    data Xv = randn(nv, d, seed: 24)
    data yv = Xv @ wt + 0.5 * randn(nv, seed: 25)
    data Xt = randn(nt, d, seed: 26)
    data yt = Xt @ wt + 0.5 * randn(nt, seed: 27)

    outer loglam: scalar = 1
    inner w: vector[d] = 0

    inner loss = mean((X @ w - y)^2) + exp(loglam) * sum(w^2)
    outer loss = mean((Xv @ w - yv)^2)

    report test_loss = mean((Xt @ w - yt)^2)
    report weight_norm = norm(w)
    report penalty = exp(loglam)

    solve inner with gd(lr: 0.05, steps: 200)
    hypergradient with implicit(cg, iters: 20)
    solve outer with adam(lr: 0.2, steps: 20)

    """

  @Test func aReportOfTheOuterLossIsTheOuterLoss() throws {
    let d = ResultWorkflowTests.temporary("report")
    defer { try? FileManager.default.removeItem(atPath: d) }
    let source =
      Self.program
      + "report again = mean((Xv @ w - yv)^2)\n"
    try source.write(toFile: d + "/main.blv", atomically: true, encoding: .utf8)
    let run = DriverRunner.run(["--trace", "t.csv", "main.blv"], in: d)
    #expect(run.status == 0, "\(run.errors)")
    let rows = try String(contentsOfFile: d + "/t.csv", encoding: .utf8).split(separator: "\n").map
    { $0.split(separator: ",") }
    #expect(rows[0].last == "again" && rows[0][1] == "outer_loss")
    #expect(rows.count == 22)
    for row in rows.dropFirst() { #expect(row[1] == row.last!, "step \(row[0])") }
  }

  @Test func aReportMustBeAScalar() throws {
    let d = ResultWorkflowTests.temporary("report-shape")
    defer { try? FileManager.default.removeItem(atPath: d) }
    let source = Self.program + "report r = Xt @ w\n"
    try source.write(toFile: d + "/main.blv", atomically: true, encoding: .utf8)
    let run = DriverRunner.run(["main.blv"], in: d)
    #expect(run.status == 1)
    #expect(
      run.errors.contains("error: report 'r' must be a scalar, not vector[60]"), "\(run.errors)")
  }
}
