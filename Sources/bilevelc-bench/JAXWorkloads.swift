import BilevelCore
import Foundation
import Synchronization

// `bilevelc-bench jax`: issue 17's ratio table. Each workload is a program
// under samples/ (samples/bench/ holds those written for it, small by
// default so their goldens stay cheap) and the command-line overrides that
// give it the workload's sizes and method; bilevelc and the program's
// `--emit jax` module run the same command line.

/// One row of the ratio table.
struct JAXWorkload {
  let name: String
  let arguments: [String]
  /// Also a row for the first call (bilevelc's plans and hoisting; JAX's trace and compile).
  var firstCall = false
}

/// The issue's goal for every row: bilevelc / JAX ≤ 0.5.
let jaxGoal = 0.5

func ridgeUnroll(d: Int, n: Int, T: Int) -> [String] {
  ["--set", "d=\(d)", "--set", "n=\(n)", "--set", "nv=\(n)", "--set", "T=\(T)"]
}

func weightedRidgeUnroll(d: Int) -> [String] {
  ["--set", "d=\(d)", "--set", "n=1000", "--set", "nv=200", "--set", "T=100"]
}

/// The unrolled ridge rows' program at d = n = 2000, T = 1000.
let largeRidge = ridgeUnroll(d: 2000, n: 2000, T: 1000) + ["samples/bench/unrolled_ridge.blv"]

/// The large implicit row's program, at the issue's size (small by default).
let largeImplicit = largeImplicitSizes + ["samples/bench/implicit_cg_logistic_large.blv"]

let jaxWorkloads: [JAXWorkload] =
  [
    JAXWorkload(
      name: "ridge closed form, d = 20",
      arguments: ["--set", "d=20", "samples/ridge_closed_form.blv"]),
    JAXWorkload(name: "Stackelberg (scalars)", arguments: ["samples/stackelberg_forward.blv"]),
    JAXWorkload(
      name: "unrolled lr/wd, d = 20, T = 50, reverse",
      arguments: ["--set", "d=20", "samples/lr_weight_decay_unroll.blv"]),
    JAXWorkload(
      name: "unrolled lr/wd, d = 20, T = 50, forward",
      arguments: [
        "--set", "d=20", "--method", "unroll(forward)", "samples/lr_weight_decay_unroll.blv",
      ]),
    JAXWorkload(
      name: "logistic, per-feature decay, d = 50, implicit",
      arguments: ["--inner", "gd(lr: 1, steps: 100)", "samples/logistic_feature_decay.blv"]),
    JAXWorkload(
      name: "reweighting T = 20 (n = 200)",
      arguments: ["--inner", "gd(lr: 1.0, steps: 20)", "samples/reweighting_lookahead.blv"]),
    JAXWorkload(
      name: "distillation T = 10",
      arguments: [
        "--inner", "gd(lr: 0.5, steps: 10)", "--method", "unroll(reverse)",
        "samples/distillation_truncated.blv",
      ]),
    JAXWorkload(
      name: "DARTS-style mixture, second order",
      arguments: ["--method", "unroll(reverse)", "samples/darts_finite_difference.blv"]),
    JAXWorkload(
      name: "DARTS-style mixture, finite difference",
      arguments: ["samples/darts_finite_difference.blv"]),
    JAXWorkload(
      name: "MAML 1-40-40-1, 5 tasks, one step, second order",
      arguments: ["samples/maml_mlp_one_step.blv"]),
    JAXWorkload(
      name: "MAML 1-40-40-1, 5 tasks, one step, first order",
      arguments: ["--method", "first_order", "samples/maml_mlp_one_step.blv"]),
    JAXWorkload(
      name: "iMAML exact, 1,761 parameters, 5 tasks",
      arguments: ["--set", "h=40", "samples/bench/imaml_exact_mlp.blv"]),
    JAXWorkload(
      name: "R2D2 ridge head, primal closed form", arguments: ["samples/r2d2_ridge_head.blv"]),
    JAXWorkload(
      name: "R2D2 ridge head, dual through solve", arguments: ["samples/r2d2_dual_solve.blv"]),
    JAXWorkload(
      name: "unrolled ridge d = 2000, T = 1000", arguments: largeRidge, firstCall: true),
  ]
  + [500, 1000, 2000, 4000].map { d in
    JAXWorkload(
      name: "unrolled ridge, nothing to hoist, d = \(d)",
      arguments: weightedRidgeUnroll(d: d) + ["samples/bench/unrolled_ridge_weighted.blv"])
  } + [
    JAXWorkload(name: "implicit CG20 logistic, d = 5000, n = 10000", arguments: largeImplicit)
  ]

/// The thread-scaling rows: each workload again on one core (taskset -c 0).
let jaxThreadWorkloads: [JAXWorkload] = [
  JAXWorkload(name: "unrolled ridge d = 2000, T = 1000", arguments: largeRidge),
  JAXWorkload(name: "implicit CG20 logistic, d = 5000", arguments: largeImplicit),
  JAXWorkload(
    name: "MAML 1-40-40-1, M = 5, 5 steps", arguments: ["samples/maml_mlp_five_steps.blv"]),
]

func isPresent(_ w: JAXWorkload) -> Bool {
  FileManager.default.fileExists(atPath: w.arguments.last!)
}

func jaxWorkloadSection() -> Section {
  var s = Section(
    "issue 17's workloads: one hypergradient at the initial point, bilevelc beside its --emit jax module (jit, float64)",
    header: [
      "workload", "method", "d", "bilevelc ms", "jax ms", "bilevelc / jax", "goal",
      "outer loss rel. diff",
    ])
  let version = jaxVersion()
  let python = version == nil ? nil : benchPython
  let directory = benchTemporaryDirectory()
  defer { try? FileManager.default.removeItem(atPath: directory) }
  for w in jaxWorkloads {
    guard isPresent(w) else {
      s.add([w.name, "skipped: \(w.arguments.last!) absent", "", "", "", "", "", ""])
      continue
    }
    let c = JAXComparison(w.arguments, python: python, directory: directory)
    guard let ours = c.ours else {
      s.add([w.name, c.method, "\(c.innerSize)", c.failure ?? "", "", "", "", ""])
      continue
    }
    twoCoreFigures.withLock { $0[w.arguments] = (ours.steady, c.theirs?.steady) }
    func row(_ label: String, _ a: Double, _ b: Double?) -> [String] {
      guard let b else {
        return [label, c.method, "\(c.innerSize)", ms(a), c.failure ?? "-", "-", "", "-"]
      }
      let r = a / b
      return [
        label, c.method, "\(c.innerSize)", ms(a), ms(b), times(r),
        r <= jaxGoal ? "≤ 0.5× ok" : "≤ 0.5× MISSED", c.lossDifference,
      ]
    }
    s.add(row(w.name, ours.steady, c.theirs?.steady))
    if w.firstCall {
      s.add(row("  same, first call", ours.first, c.theirs?.first))
    }
  }
  s.note(
    "bilevelc: median of ≥ 3 calls after the first (as the solvers section); first call = BilevelProblem(program) and one"
  )
  s.note(
    "  hypergradient (plans built, data-only products hoisted); jax's first call = trace, compile and one call"
  )
  s.note(
    "each workload: the .blv and the overrides in JAXWorkloads.swift, given to bilevelc and to --emit jax alike; d = inner entries per task"
  )
  jaxNotes(&s, version)
  return s
}

/// Steady seconds per workload (its arguments) from the workload section,
/// which the thread section reuses as its 2-core figures.
let twoCoreFigures = Mutex<[[String]: (ours: Double, theirs: Double?)]>([:])

/// The thread rows: the 2-core figures of the workload section beside a
/// child bench pinned to one core (`taskset -c 0 bilevelc-bench jax --one-core K`),
/// whose JAX module inherits the pinning.
func jaxThreadSection() -> Section {
  var s = Section(
    "thread scaling: the same hypergradients on 2 cores and pinned to 1 (taskset -c 0)",
    header: [
      "workload", "bilevelc 2 cores ms", "bilevelc 1 core ms", "bilevelc speedup",
      "jax 2 cores ms", "jax 1 core ms", "jax speedup",
    ])
  let python = jaxVersion() == nil ? nil : benchPython
  let directory = benchTemporaryDirectory()
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let executable =
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
    ?? CommandLine.arguments[0]
  for (k, w) in jaxThreadWorkloads.enumerated() {
    guard isPresent(w) else {
      s.add([w.name, "skipped: \(w.arguments.last!) absent", "", "", "", "", ""])
      continue
    }
    var two = twoCoreFigures.withLock { $0[w.arguments] }
    if two == nil {
      let c = JAXComparison(w.arguments, python: python, directory: directory)
      two = c.ours.map { (ours: $0.steady, theirs: c.theirs?.steady) }
    }
    let child = spawnPython(
      "/usr/bin/taskset", ["-c", "0", executable, "jax", "--one-core", "\(k)"])
    let figures = child.output.split(separator: "\n").last { $0.hasPrefix("one core: ") }?
      .split(separator: " ").dropFirst(2).map { Double($0) }
    guard let two, let figures, figures.count == 2, let ours = figures[0] else {
      s.add([w.name, two.map { ms($0.ours) } ?? "-", "child failed", "", "", "", ""])
      continue
    }
    let theirs = figures[1]
    s.add([
      w.name, ms(two.ours), ms(ours), times(ours / two.ours), two.theirs.map(ms) ?? "-",
      theirs.map(ms) ?? "-",
      two.theirs.flatMap { t in theirs.map { times($0 / t) } } ?? "-",
    ])
  }
  s.note(
    "1 core: the child's kernel pool keeps its threads, all on core 0; speedup = 1-core time / 2-core time"
  )
  return s
}

/// The child of the thread section: thread workload K, printed as
/// "one core: BILEVELC_SECONDS JAX_SECONDS" (JAX: "-" without jax).
func jaxOneCore(_ k: Int) {
  guard jaxThreadWorkloads.indices.contains(k) else { return }
  let directory = benchTemporaryDirectory()
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let version = jaxVersion()
  let c = JAXComparison(
    jaxThreadWorkloads[k].arguments, python: version == nil ? nil : benchPython,
    directory: directory)
  guard let ours = c.ours else { return }
  print("one core: \(ours.steady) \(c.theirs.map { "\($0.steady)" } ?? "-")")
}

/// Data values as `--emit jax --data-values` reads them: NAME.npy per data
/// entry, little-endian float64, a per-task entry stacked over the tasks.
enum JAXDataValues {
  static func write(_ program: Program, to folder: String) -> Bool {
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    for entry in program.data {
      let shape = entry.shape
      var dims = Array([shape.rows, shape.columns].prefix(shape.rank))
      if entry.perTask { dims.insert(entry.values.count, at: 0) }
      var bytes = header(dims)
      // The machine's byte order: little-endian on every target bilevelc builds for.
      entry.values.flatMap(\.scalars).withUnsafeBufferPointer { bytes.append($0) }
      guard FileManager.default.createFile(atPath: folder + "/\(entry.name).npy", contents: bytes)
      else { return false }
    }
    return true
  }

  /// NPY 1.0: magic, version, header length, the dict padded to a multiple of 64 bytes.
  static func header(_ dims: [Int]) -> Data {
    let tuple =
      dims.isEmpty
      ? "()"
      : dims.count == 1
        ? "(\(dims[0]),)" : "(" + dims.map(String.init).joined(separator: ", ") + ")"
    var dict = "{'descr': '<f8', 'fortran_order': False, 'shape': \(tuple), }"
    let unpadded = 10 + dict.utf8.count + 1
    dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
    let length = UInt16(dict.utf8.count)
    data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
    data.append(contentsOf: Array(dict.utf8))
    return data
  }
}
