import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation

// Plans shared by tasks of the same shapes: the online MAML program with M
// task slots, each case in a child process of its own (its peak RSS is the
// process's), run by this binary and, when BILEVELC_BENCH_BASELINE names
// another build's bilevelc-bench, by that one too, case by case.

/// Distinct plan codes among the functions unroll(reverse) calls: plans
/// that share their code share their instruction table's storage.
func distinctPlans(_ problem: BilevelProblem) -> Int {
  var functions = [problem.outerGradient.function]
  for t in 0..<problem.tasks {
    functions += [
      problem.initial(t).function, problem.step(t).function, problem.tapedPullback(t).function,
      problem.initialPullback(t).function, problem.innerGradient(t).function,
      problem.outerGradientInner(t).function,
    ]
  }
  var codes = Set<Int>()
  for f in functions {
    let base = f.plan.instructions.withUnsafeBufferPointer { $0.baseAddress }
    // An empty table has no storage of its own: such a plan counts alone.
    codes.insert(
      f.plan.instructions.isEmpty ? ObjectIdentifier(f.plan).hashValue : Int(bitPattern: base))
  }
  return codes.count
}

/// M task slots of the online MAML program; M = 0: the digits MAML sample itself.
func sharingProgram(tasks M: Int) -> Program? {
  if M > 0 {
    return compileBilevel(
      path: "samples/online_bench.blv", bytes: Array(onlineMamlText(tasks: M, pool: 1000).utf8))
  }
  let sample = "samples/maml_digits_5way_1shot.blv"
  guard let bytes = FileManager.default.contents(atPath: sample) else { return nil }
  return compileBilevel(path: sample, bytes: [UInt8](bytes))
}

/// The child: `--sharing-child M` prints `plans setup-ms step-ms peak-bytes`
/// for M task slots (M = 0: samples/maml_digits_5way_1shot.blv itself).
func sharingChild(tasks M: Int) {
  var problem: BilevelProblem!
  var plans = 0
  let setup = once {
    guard let program = sharingProgram(tasks: M) else { return }
    problem = BilevelProblem(program)
    problem.threads = 1
    _ = buildReversePlans(problem, threads: 1)
    plans = distinctPlans(problem)
  }
  guard problem != nil else {
    print("- - - -")
    return
  }
  let phi = problem.initialOuter()
  let method = HypergradientMethod.unrollReverse(checkpoints: nil)
  var k = 0
  let t = alternating(
    rounds: 5,
    [
      {
        _ = mustSucceed { () throws(SolverFault) in
          try problem.hypergradient(method, at: phi, outerStep: k)
        }
        k += 1
      }
    ])
  print("\(plans) \(setup * 1e3) \(median(t[0]) * 1e3) \(residentBytes("VmHWM") ?? -1)")
}

func sharingSection() -> Section {
  var s = Section(
    "Plans shared by tasks: online MAML with M task slots (pool 1,000), unroll(reverse), 1 thread",
    header: ["build", "M", "distinct plans", "setup ms", "ms / outer step", "peak RSS"])
  let baseline = ProcessInfo.processInfo.environment["BILEVELC_BENCH_BASELINE"]
  let builds = [("this", CommandLine.arguments[0])] + (baseline.map { [("baseline", $0)] } ?? [])
  for M in [0, 5, 100, 1000] {
    for (name, binary) in builds.reversed() {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: binary)
      process.arguments = ["--sharing-child", "\(M)"]
      let pipe = Pipe()
      process.standardOutput = pipe
      guard (try? process.run()) != nil else {
        s.add([name, "\(M)", "does not start", "", "", ""])
        continue
      }
      let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      process.waitUntilExit()
      let f = text.split(whereSeparator: \.isWhitespace).map(String.init)
      guard f.count == 4, let setup = Double(f[1]), let step = Double(f[2]), let peak = Int(f[3])
      else {
        s.add([name, "\(M)", "failed", "", "", ""])
        continue
      }
      s.add([
        name, M == 0 ? "sample" : "\(M)", f[0], format(setup), format(step, 2), formatBytes(peak),
      ])
    }
  }
  s.note(
    "each row a child process: compile, BilevelProblem and every plan unroll(reverse) calls (setup), then the median of 5 hypergradients;"
  )
  s.note(
    "  sample: samples/maml_digits_5way_1shot.blv (8 task slots; its ms / outer step is a hypergradient)"
  )
  s.note(
    "  distinct plans: instruction tables among the 6 per-task functions × M and the outer gradient"
  )
  s.note(
    "  peak RSS: the child's VmHWM; baseline: BILEVELC_BENCH_BASELINE=<other build's bilevelc-bench>"
  )
  return s
}
