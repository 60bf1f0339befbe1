// bilevelc-bench: kernel and interpreter figures, printed in one run, side
// by side with numpy on the same machine when python3 + numpy are present.
//
//     swift run -c release bilevelc-bench
//
// Each figure is the median of several timed samples after a warm-up;
// numpy's samples alternate with ours (see `pairedMedians`).
// Sections are independent functions; add one by writing a function that
// returns a `Section` and listing it in `main` at the bottom.

import BilevelCore
import BilevelFrontEnd
import Foundation

// MARK: Output

/// A titled table printed with aligned columns, plus free-form notes.
struct Section {
  var title: String
  var header: [String]
  var rows: [[String]] = []
  var notes: [String] = []

  init(_ title: String, header: [String]) {
    self.title = title
    self.header = header
  }

  mutating func add(_ row: [String]) { rows.append(row) }
  mutating func note(_ text: String) { notes.append(text) }

  func render() -> String {
    var lines = ["== \(title)"]
    if !header.isEmpty {
      let table = [header] + rows
      let widths = header.indices.map { c in table.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0
      }
      for (r, row) in table.enumerated() {
        let cells = row.indices.map { c in pad(row[c], widths[c], left: c == 0) }
        lines.append("  " + cells.joined(separator: "  "))
        if r == 0 {
          lines.append(
            "  " + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        }
      }
    }
    lines += notes.map { "  " + $0 }
    return lines.joined(separator: "\n") + "\n"
  }

  private func pad(_ s: String, _ width: Int, left: Bool) -> String {
    let fill = String(repeating: " ", count: max(0, width - s.count))
    return left ? s + fill : fill + s
  }
}

func format(_ x: Double, _ digits: Int = 1) -> String {
  x.isFinite ? String(format: "%.\(digits)f", x) : "-"
}

func ratio(_ ours: Double, _ theirs: Double?) -> String {
  guard let theirs, theirs > 0, ours.isFinite else { return "-" }
  return String(format: "%.0f%%", 100 * ours / theirs)
}

// MARK: Timing

func seconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

/// Repetitions per sample: after a warm-up call, doubled until a sample
/// lasts at least half of `sampleTime`.
func calibrate(sampleTime: Double = 0.02, _ body: () -> Void) -> Int {
  body()
  var reps = 1
  while true {
    let t0 = seconds()
    for _ in 0..<reps { body() }
    if seconds() - t0 >= sampleTime / 2 { return reps }
    reps *= 2
  }
}

/// Seconds per call over one sample of `reps` calls.
func sample(_ reps: Int, _ body: () -> Void) -> Double {
  let t0 = seconds()
  for _ in 0..<reps { body() }
  return (seconds() - t0) / Double(reps)
}

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

/// Median seconds per call of `body`: warm-up, calibration, `samples` samples.
func medianTime(samples: Int = 7, _ body: () -> Void) -> Double {
  let reps = calibrate(body)
  return median((0..<samples).map { _ in sample(reps, body) })
}

/// Median seconds per call of ours and of numpy's `op` at size n, sampled
/// alternately (ours, numpy, ours, ...) so that both see the same machine
/// when other work comes and goes during the run.
func pairedMedians(
  samples: Int = 7, numpy: Numpy, op: String, n: Int, threads: Int, _ body: () -> Void
) -> (ours: Double, numpy: Double?) {
  let reps = calibrate(body)
  let theirReps = numpy.calibrate(op, n, threads: threads)
  var ours: [Double] = [], theirs: [Double] = []
  for _ in 0..<samples {
    ours.append(sample(reps, body))
    if let theirReps, let t = numpy.sample(op, n, threads: threads, reps: theirReps) {
      theirs.append(t)
    }
  }
  return (median(ours), theirs.count == samples ? median(theirs) : nil)
}

/// A buffer of `count` doubles, uniform in [-1, 1), deterministic.
func randomBuffer(_ count: Int, seed: UInt64) -> UnsafeMutablePointer<Double> {
  var r = RandomStream(seed: seed)
  let p = UnsafeMutablePointer<Double>.allocate(capacity: max(1, count))
  for i in 0..<count { p[i] = 2 * r.nextUniform() - 1 }
  return p
}

// MARK: Machine

/// "model name (family F model M), ISA flags" from /proc/cpuinfo, where present.
func cpuDescription() -> String {
  guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
    return "unknown CPU"
  }
  var fields: [String: String] = [:]
  for line in text.split(separator: "\n") {
    guard let colon = line.firstIndex(of: ":") else { continue }
    let key = line[..<colon].trimmingCharacters(in: .whitespaces)
    if fields[key] == nil {
      fields[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
  }
  var s = fields["model name"] ?? "unknown CPU"
  if let family = fields["cpu family"], let model = fields["model"] {
    s += " (family \(family) model \(model))"
  }
  if let flags = fields["flags"]?.split(separator: " ") {
    let isa = ["avx2", "fma", "avx512f"].filter { flags.contains(Substring($0)) }
    s += ", " + (isa.isEmpty ? "no AVX2" : isa.joined(separator: " "))
  }
  return s
}

func machineSection(_ numpy: Numpy) -> Section {
  var s = Section("machine", header: [])
  s.note(
    "CPU: \(cpuDescription()); \(ProcessInfo.processInfo.activeProcessorCount) online cores; kernel pool: \(KernelThreadPool.shared.threadCount) threads"
  )
  s.note(
    "kernels: \(KernelISA.active.summary) ran (supported here: \(KernelISA.supported.map(\.rawValue).joined(separator: ", ")); \(KernelISA.environmentVariable) forces one)"
  )
  #if DEBUG
    s.note(
      "WARNING: debug build; figures are meaningless (use swift run -c release bilevelc-bench)")
  #endif
  for isa in KernelISA.supported {
    let b = GEMMBlocking.default
    let tile = isa == .avx512 ? (24, 8) : (5, 8)
    s.note(
      "GEMM on \(isa.rawValue): \(tile.0)×\(tile.1) register tile, blocking mc \(b.mc) kc \(b.kc) nc \(b.nc); automatic threading from \(b.parallelThreshold) flops"
    )
  }
  s.note("GEMV: automatic threading from \(GEMV.parallelThreshold) matrix elements")
  s.note("numpy: \(numpy.description)")
  let pinned = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"].map {
    "\($0)=\(ProcessInfo.processInfo.environment[$0] ?? "(unset)")"
  }
  s.note(
    "this environment: \(pinned.joined(separator: ", ")); numpy's children run with both unset, so OpenBLAS picks its own kernel"
  )
  return s
}

// MARK: Dense kernels

let denseSizes = [32, 64, 128, 256, 512, 1024]

func gemmSection(_ numpy: Numpy) -> Section {
  let others = KernelISA.supported.filter { $0 != KernelISA.active }
  var header = ["n"]
  for t in ["1T", "2T"] {
    header +=
      others.map { "\($0.rawValue) \(t)" } + [
        "\(KernelISA.active.rawValue) \(t)", "numpy \(t)", "ratio \(t)",
      ]
  }
  var s = Section("DGEMM C = A·B, n×n×n, GFLOP/s, every ISA path", header: header)
  for n in denseSizes + [2000] {
    let a = randomBuffer(n * n, seed: 1), b = randomBuffer(n * n, seed: 2)
    let c = UnsafeMutablePointer<Double>.allocate(capacity: n * n)
    let size = GEMM.workspaceSize(m: n, n: n, k: n)
    let ws = UnsafeMutablePointer<Double>.allocate(capacity: size)
    let flops = 2 * Double(n) * Double(n) * Double(n)
    var row = ["\(n)"]
    for threads in [1, 2] {
      for isa in others {
        let t = medianTime {
          GEMM.multiply(
            m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: n, workspace: ws,
            threads: threads, isa: isa)
        }
        row.append(format(flops / t / 1e9))
      }
      let t = pairedMedians(numpy: numpy, op: "gemm", n: n, threads: threads) {
        GEMM.multiply(
          m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: n, workspace: ws,
          threads: threads)
      }
      row += compare(flops / t.ours / 1e9, t.numpy.map { flops / $0 / 1e9 })
    }
    s.add(row)
    a.deallocate(); b.deallocate(); c.deallocate(); ws.deallocate()
  }
  s.note(
    "median of 7 samples of ≥ 10 ms each; the active path's and numpy's alternate; ratio = \(KernelISA.active.rawValue) / numpy"
  )
  s.note("numpy's kernel: \(numpy.description)")
  s.note(
    "(numpy's figures include Python's per-call overhead, about a microsecond, which dominates at small n)"
  )
  return s
}

func gemvSection(_ numpy: Numpy, transposed: Bool) -> Section {
  var s = Section(
    transposed ? "DGEMV y = Aᵀ·x, n×n, GFLOP/s" : "DGEMV y = A·x, n×n, GFLOP/s",
    header: ["n", "ours 1T", "numpy 1T", "ratio 1T", "ours 2T", "numpy 2T", "ratio 2T"])
  for n in denseSizes {
    let a = randomBuffer(n * n, seed: 3), x = randomBuffer(n, seed: 4)
    let y = UnsafeMutablePointer<Double>.allocate(capacity: n)
    let flops = 2 * Double(n) * Double(n)
    var row = ["\(n)"]
    for threads in [1, 2] {
      let t = pairedMedians(numpy: numpy, op: transposed ? "gemvT" : "gemv", n: n, threads: threads)
      {
        GEMV.multiply(
          m: n, n: n, a: a, lda: n, transposeA: transposed, x: x, y: y, threads: threads)
      }
      row += compare(flops / t.ours / 1e9, t.numpy.map { flops / $0 / 1e9 })
    }
    s.add(row)
    a.deallocate(); x.deallocate(); y.deallocate()
  }
  return s
}

/// Cells "ours", "numpy", "ratio".
func compare(_ ours: Double, _ theirs: Double?) -> [String] {
  [format(ours), theirs.map { format($0) } ?? "-", ratio(ours, theirs)]
}

// MARK: Main

if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "--evaluate-quickstart" {
  evaluateQuickstart(Int(CommandLine.arguments[2]) ?? 1)
  exit(0)
}
if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "--sharing-child" {
  sharingChild(tasks: Int(CommandLine.arguments[2]) ?? 0)
  exit(0)
}
if CommandLine.arguments.count == 4, CommandLine.arguments[1...2] == ["jax", "--one-core"] {
  // A child of the thread section (JAXWorkloads.swift).
  jaxOneCore(Int(CommandLine.arguments[3]) ?? -1)
  exit(0)
}
// `bilevelc-bench profile [--calls N] NAME ...`: hypergradients for callgrind
// (BreakdownBenchmarks.swift); `bilevelc-bench breakdown`: where they spend it.
if CommandLine.arguments.count >= 2, CommandLine.arguments[1] == "profile" {
  profileSamples(Array(CommandLine.arguments.dropFirst(2)))
  exit(0)
}
signal(SIGPIPE, SIG_IGN)  // a numpy child that dies must not kill the benchmark
let numpy = Numpy(threadCounts: [1, 2])
// `bilevelc-bench kernels` runs only the kernel sections (both ISA paths),
// `bilevelc-bench solvers` only the solver sections (after the machine's),
// `bilevelc-bench blocking` GEMM blocking candidates side by side,
// `bilevelc-bench tasks` only the meta-learning one, `bilevelc-bench planning`
// the compile stages on programs of 2000 to 16000 lets, `bilevelc-bench online`
// the warm-started samples' time per outer step and the tasks drawn per
// outer step from a pool, `bilevelc-bench
// interpreter` only the interpreter's (overhead, fusion, allocations, calls),
// `bilevelc-bench transcendentals` the vectorised exp, log, tanh, … against
// libm, a fused tanh layer and the MLP samples' hypergradients,
// `bilevelc-bench bandwidth` the bandwidth-bound products against a STREAM
// triad, `bilevelc-bench jax` issue 17's workloads beside their --emit jax modules
// and their thread scaling, `bilevelc-bench jax --samples` each sample
// beside its module (neither in the default run: they start one python per
// program).
let only = CommandLine.arguments.dropFirst().first
let jaxOption = CommandLine.arguments.dropFirst(2).first
if only == "--path-sections" {
  // A child run on one forced path (see `pathSections`).
  for make in [{ fusedSection() }, { factorizationSection(numpy) }] {
    print(make().render())
    fflush(nil)
  }
  numpy.shutdown()
  exit(0)
}
// The solver sections, run by `bilevelc-bench solvers` and by the default run.
let solverSections: [() -> Section] = [
  { unrollCostSection() },
  { implicitCostSection() },
  { bandwidthSection() },
  { checkpointSection() },
  { sampleHypergradientSection() },
  { mamlTasksSection() },
  { onlineSection() },
  { onlineTasksSection() },
  { sharingSection() },
]
let jaxSections: [() -> Section] =
  jaxOption == "--samples"
  ? [{ jaxSamplesSection() }] : [{ jaxWorkloadSection() }, { jaxThreadSection() }]
// Each named run is its sections after the machine's; no name runs the default.
let kernelSections: [() -> Section] = [
  { gemmSection(numpy) },
  { gemvSection(numpy, transposed: false) },
  { gemvSection(numpy, transposed: true) },
]
let interpreterSections: [() -> Section] = [
  { interpreterSection() },
  { fusedSection() },
  { allocationSection() },
  { hotLoopCallsSection() },
]
let namedSections: [String: [() -> Section]] = [
  "interpreter": interpreterSections,
  "transcendentals": [
    { transcendentalSection() }, { tanhLayerSection() }, { mlpSamplesSection() },
  ],
  "kernels": kernelSections + [{ pathSections() }],
  "jax": jaxSections,
  "blocking": [{ blockingSection() }],
  "breakdown": [{ breakdownSection() }],
  "planning": [{ planScalingSection() }],
  "bandwidth": [{ bandwidthSection() }],
  "online": [{ onlineSection() }, { onlineTasksSection() }, { sharingSection() }],
  "tasks": [{ mamlTasksSection() }],
  "solvers": solverSections,
]
let defaultSections: [() -> Section] =
  kernelSections + [
    { interpreterSection() },
    { pathSections() },
    { derivativeCostSection() },
    { memorySection() },
    { planScalingSection() },
    { allocationSection() },
    { hotLoopCallsSection() },
  ] + solverSections
let sections: [() -> Section] =
  [{ machineSection(numpy) }] + (only.flatMap { namedSections[$0] } ?? defaultSections)
for make in sections {
  print(make().render())
  fflush(nil)  // all streams: `stdout` itself is not concurrency-safe in Swift 6
}
numpy.shutdown()
