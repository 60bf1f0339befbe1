import BilevelCore
import BilevelSolvers
import Foundation
import TestSupport
import Testing

/// `--emit jax`: every sample's module, run with JAX, agrees with bilevelc
/// (the outer loss and hypergradient at the initial point to 1e-10
/// relative, the final outer loss to 1e-8); samples it cannot emit are
/// refused at their source; the emitted text of a few samples is golden.
@Suite struct EmitJAXTests {
  /// Samples refused (JAXSupport) with a located error, and what the error says: newton's
  /// data-dependent line search, the flow solver, evograd's fresh draws.
  static let refusals: [String: String] = [
    "imaml_proximal": "does not emit the newton inner solver",
    "logistic_feature_decay": "does not emit the newton inner solver",
    "surrogate_loss": "does not emit the newton inner solver",
    "topology_newton_exact": "does not emit the newton inner solver",
    "ridge_flow_horizon": "does not emit the flow inner solver",
    "label_learning_evograd": "emits evograd with fixed draws only",
    "minibatch_digits_decay": "does not emit minibatch streams",
    "maml_digits_5way_1shot": "does not emit episode streams",
    "darts_alternating_first_order": "does not emit warm-started inner solvers",
    "darts_alternating_second_order": "does not emit warm-started inner solvers",
    "digits_reweighting_online": "does not emit warm-started inner solvers",
    "breast_cancer_feature_decay": "does not emit the newton inner solver",
    "learned_optimizer_trajectory": "does not emit an outer loss summed over the trajectory",
    "meta_sgd_mlp": "does not emit a learning rate over all inner variables' entries",
    "learned_optimizer_lstm": "does not emit a rule's recurrent state",
    "ridge_prior_proxy": "does not emit proxy methods",
  ]
  static var refused: Set<String> { Set(refusals.keys) }
  static let goldens = ["quickstart", "maml_sinusoid", "deq_fixpoint"]
  /// Chaotic outer trajectories: JAX and bilevelc agree to ~1e-15 for the
  /// first 70-140 Adam steps, then the difference grows 10-50× every ten
  /// steps (measured: fomaml 7e-16 at step 120, 5e-14 at 150, 3e-12 at 160,
  /// 1e-10 at 170, 0.34 vs 0.56 at 300; maml_mlp_one_step 8e-15 at 80,
  /// 2e-12 at 100, 2e-10 at 120). bilevelc against itself, with 0.5 · randn
  /// for W1 scaled by (1 + 1e-15), parts the same way (fomaml 0.56 vs 0.44
  /// at 300; maml_mlp_one_step 4e-5 and maml_mlp_five_steps 3e-7 relative),
  /// so the final loss is compared after as many steps as still agree to
  /// ~1e-14 (measured: 7e-16, 5e-16 and 9e-15 relative).
  static let agreeingOuter: [String: String] = [
    "fomaml_mlp_five_steps": "adam(lr: 0.01, steps: 120)",
    "maml_mlp_one_step": "adam(lr: 0.01, steps: 60)",
    "maml_mlp_five_steps": "adam(lr: 0.01, steps: 100)",
  ]
  /// conformation's adjoint system is ill-posed: at the computed θ* the
  /// Hessian's rigid-motion directions have curvature ~1e-12 of either
  /// sign, and both CGs stop at the same iteration (29, pᵀAp < 0) with a
  /// relative residual of 1.6e-5 (JAX) and 2.8e-5 (bilevelc). Scaling X0 by
  /// (1 ± 1e-15) moves bilevelc's own hypergradient by 1.6e-5 and 1.9e-5
  /// relative (the outer loss by < 1e-17); JAX's differs from it by 1.4e-5.
  /// Along the 40 outer steps the same perturbation parts bilevelc from
  /// itself by up to 1.6e-3 in the loss (8e-4 at the end; JAX: 2e-3, 4e-4).
  static let gradientTolerance: [String: Double] = ["conformation_distance_geometry": 1e-4]
  static let finalLossTolerance: [String: Double] = ["conformation_distance_geometry": 1e-2]

  static var samples: [String] {
    PackagePaths.files(under: PackagePaths.samples, withExtension: "blv")
      .filter { !$0.dropFirst(PackagePaths.samples.count + 1).contains("/") }
      .map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent }
  }

  /// An interpreter that imports jax: $BILEVELC_PYTHON (set by .ci/run), else python3 if it has jax.
  static let python: String? = {
    let candidates = [ProcessInfo.processInfo.environment["BILEVELC_PYTHON"], "/usr/bin/env"]
      .compactMap { $0 }
    for c in candidates {
      let args = c == "/usr/bin/env" ? ["python3", "-c", "import jax"] : ["-c", "import jax"]
      if let r = try? Self.spawn(c, args), r.status == 0 {
        return c == "/usr/bin/env" ? "python3" : c
      }
    }
    return nil
  }()

  static func spawn(
    _ executable: String, _ args: [String], environment: [String: String] = [:]
  ) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
    p.arguments = executable.hasPrefix("/") ? args : [executable] + args
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  static func temporary(_ name: String) -> String {
    NSTemporaryDirectory() + "bilevelc-jax-\(ProcessInfo.processInfo.processIdentifier)-\(name)"
  }

  static func json(_ path: String) throws -> [String: Any] {
    try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        as? [String: Any])
  }

  static func relative(_ a: [Double], _ b: [Double]) -> Double {
    let scale = max(b.map(abs).max() ?? 0, 1e-300)
    return zip(a, b).map { abs($0 - $1) }.max()! / scale
  }

  @Test func unsupportedSamplesAreRefusedAtTheirSource() {
    for (name, why) in Self.refusals.sorted(by: { $0.key < $1.key }) {
      let run = DriverRunner.run(["--emit", "jax", "\(name).blv"], in: PackagePaths.samples)
      #expect(run.status == 1)
      #expect(run.output.isEmpty)
      #expect(
        run.errors.contains("\(name).blv:") && run.errors.contains(": error: --emit jax \(why)"),
        "\(run.errors)")
    }
  }

  @Test func emittedTextIsGolden() throws {
    let update = ProcessInfo.processInfo.environment["BILEVELC_UPDATE_GOLDEN"] != nil
    for name in Self.goldens {
      let run = DriverRunner.run(["--emit", "jax", "\(name).blv"], in: PackagePaths.samples)
      #expect(run.status == 0, "\(run.errors)")
      let path = PackagePaths.samples + "/jax/\(name).py"
      if update { try run.output.write(toFile: path, atomically: true, encoding: .utf8) }
      #expect(
        run.output == (try? String(contentsOfFile: path, encoding: .utf8)),
        "samples/jax/\(name).py differs")
    }
  }

  @Test(arguments: samples) func moduleAgreesWithBilevelc(_ name: String) throws {
    if Self.refused.contains(name) { return }
    let emitted = DriverRunner.run(["--emit", "jax", "\(name).blv"], in: PackagePaths.samples)
    try #require(emitted.status == 0, "\(emitted.errors)")
    guard let python = Self.python else {
      print(
        "EmitJAXTests: skipped running \(name)'s module: no python3 with jax (set BILEVELC_PYTHON)")
      return
    }
    let module = Self.temporary("\(name).py"), gradJSON = Self.temporary("\(name)-grad.json")
    let runJSON = Self.temporary("\(name)-run.json"),
      bilevelcJSON = Self.temporary("\(name)-bilevelc.json")
    defer {
      for f in [module, gradJSON, runJSON, bilevelcJSON] {
        try? FileManager.default.removeItem(atPath: f)
      }
    }
    try emitted.output.write(toFile: module, atomically: true, encoding: .utf8)

    // bilevelc's own figures at the initial point.
    let path = PackagePaths.samples + "/\(name).blv"
    let program = try SolverFixtures.program(
      try String(contentsOfFile: path, encoding: .utf8), path: path)
    let problem = BilevelProblem(program)
    var phi = problem.initialOuter()
    OuterOptimizer(program.outerSolver, bounds: problem.outerBounds()).project(&phi)
    let expected = try problem.hypergradient(MethodSelection(problem).method, at: phi)

    let grad = try Self.spawn(
      python, [module, "--grad", "--data-dir", PackagePaths.samples, "--json", gradJSON])
    try #require(grad.status == 0, "\(grad.output)")
    let g = try Self.json(gradJSON)
    let loss = try #require(g["outer_loss"] as? Double)
    let gradient = try #require(g["hypergradient"] as? [Double])
    #expect(
      abs(loss - expected.outerLoss) <= 1e-10 * abs(expected.outerLoss),
      "\(name): outer loss \(loss) vs \(expected.outerLoss)")
    #expect(gradient.count == expected.gradient.count)
    #expect(
      Self.relative(gradient, expected.gradient) <= Self.gradientTolerance[name, default: 1e-10],
      "\(name): hypergradient \(gradient) vs \(expected.gradient)")

    // The whole run: the final outer loss after the program's outer steps
    // (fewer where the trajectory is chaotic).
    let outer = Self.agreeingOuter[name].map { ["--outer", $0] } ?? []
    if !outer.isEmpty {
      let shortened = DriverRunner.run(
        ["--emit", "jax"] + outer + ["\(name).blv"], in: PackagePaths.samples)
      try #require(shortened.status == 0, "\(shortened.errors)")
      try shortened.output.write(toFile: module, atomically: true, encoding: .utf8)
    }
    let run = try Self.spawn(
      python, [module, "--data-dir", PackagePaths.samples, "--json", runJSON])
    try #require(run.status == 0, "\(run.output)")
    #expect(run.output.contains("solved: "), "\(run.output)")
    let reference = DriverRunner.run(
      ["--json", bilevelcJSON] + outer + ["\(name).blv"], in: PackagePaths.samples)
    try #require(reference.status == 0)
    let mine = try #require(try Self.json(runJSON)["final_outer_loss"] as? Double)
    let theirs = try #require(try Self.json(bilevelcJSON)["final_outer_loss"] as? Double)
    #expect(
      try Self.json(runJSON)["outer_steps"] as? Int
        == (try Self.json(bilevelcJSON)["outer_steps"] as? Int))
    let tolerance = Self.finalLossTolerance[name, default: 1e-8]
    #expect(
      abs(mine - theirs) <= tolerance * abs(theirs),
      "\(name): final outer loss \(mine) vs \(theirs)")
  }

  /// `--data-values DIR` (bilevelc-bench's way past Python's slow generator)
  /// reads NAME.npy per data entry, per-task entries stacked, and gives the
  /// same hypergradient as the data the module computes itself.
  @Test func dataValuesFromFilesAgreeWithComputedData() throws {
    guard let python = Self.python else {
      print("EmitJAXTests: skipped the data-values test: no python3 with jax (set BILEVELC_PYTHON)")
      return
    }
    let emitted = DriverRunner.run(["--emit", "jax", "meta_sgd.blv"], in: PackagePaths.samples)
    try #require(emitted.status == 0)
    let module = Self.temporary("values.py"), folder = Self.temporary("values")
    let computed = Self.temporary("computed.json"), read = Self.temporary("read.json")
    defer {
      for f in [module, folder, computed, read] { try? FileManager.default.removeItem(atPath: f) }
    }
    try emitted.output.write(toFile: module, atomically: true, encoding: .utf8)
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let save = try Self.spawn(
      python,
      [
        "-c",
        "import importlib.util, sys, os, numpy as np; s = importlib.util.spec_from_file_location('m', sys.argv[1]); "
          + "m = importlib.util.module_from_spec(s); s.loader.exec_module(m); "
          + "[np.save(os.path.join(sys.argv[3], k + '.npy'), np.asarray(v)) for k, v in m.load_data(sys.argv[2]).items()]",
        module, PackagePaths.samples, folder,
      ])
    try #require(save.status == 0, "\(save.output)")
    let a = try Self.spawn(
      python, [module, "--grad", "--data-dir", PackagePaths.samples, "--json", computed])
    let b = try Self.spawn(
      python, [module, "--grad", "--data-values", folder, "--json", read, "--time", "1"])
    try #require(a.status == 0 && b.status == 0, "\(a.output)\n\(b.output)")
    #expect(b.output.contains("seconds of the first call: "), "\(b.output)")
    let gx = try #require(try Self.json(computed)["hypergradient"] as? [Double])
    let gy = try #require(try Self.json(read)["hypergradient"] as? [Double])
    #expect(gx == gy)
  }

  /// The task axis on two simulated host devices gives the one-device result.
  @Test func tasksShardedOverTwoDevicesAgreeWithOne() throws {
    guard let python = Self.python else {
      print("EmitJAXTests: skipped the sharding test: no python3 with jax (set BILEVELC_PYTHON)")
      return
    }
    // meta_sgd's six tasks split three to a device.
    let emitted = DriverRunner.run(["--emit", "jax", "meta_sgd.blv"], in: PackagePaths.samples)
    try #require(emitted.status == 0)
    let module = Self.temporary("sharded.py"), one = Self.temporary("one.json"),
      two = Self.temporary("two.json")
    defer { for f in [module, one, two] { try? FileManager.default.removeItem(atPath: f) } }
    try emitted.output.write(toFile: module, atomically: true, encoding: .utf8)
    let flags = ["XLA_FLAGS": "--xla_force_host_platform_device_count=2"]
    let a = try Self.spawn(
      python,
      [module, "--grad", "--devices", "1", "--data-dir", PackagePaths.samples, "--json", one],
      environment: flags)
    let b = try Self.spawn(
      python,
      [module, "--grad", "--devices", "2", "--data-dir", PackagePaths.samples, "--json", two],
      environment: flags)
    try #require(a.status == 0 && b.status == 0, "\(a.output)\n\(b.output)")
    let (x, y) = (try Self.json(one), try Self.json(two))
    #expect(x["devices"] as? Int == 1)
    #expect(y["devices"] as? Int == 2)
    let gx = try #require(x["hypergradient"] as? [Double]),
      gy = try #require(y["hypergradient"] as? [Double])
    #expect(Self.relative(gy, gx) <= 1e-12)
    #expect(
      abs((x["outer_loss"] as! Double) - (y["outer_loss"] as! Double)) <= 1e-12
        * abs(x["outer_loss"] as! Double))
  }
}
