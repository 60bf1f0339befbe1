import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation

// Where one hypergradient's time goes on the small meta-learning samples:
// the plans' instructions by kernel (PlanProfile), the interpreter's own
// loop, the solver's work between plan runs, and the task threads' hand-off.

/// The samples the breakdown and `profile` default to: MAML, iMAML and the
/// small programs whose fixed costs dominate.
let breakdownSamples = [
  "maml_mlp_five_steps", "fomaml_mlp_five_steps", "imaml_proximal", "anil_head",
  "two_view_representation",
]

/// A sample's problem, its method and the (projected) initial φ, or nil.
func hypergradientSetup(_ name: String) -> (BilevelProblem, HypergradientMethod, [Double])? {
  let path = "samples/\(name).blv"
  guard let bytes = FileManager.default.contents(atPath: path),
    let program = compileBilevel(path: path, bytes: [UInt8](bytes))
  else { return nil }
  let problem = BilevelProblem(program)
  let method = MethodSelection(problem).method
  var phi = problem.initialOuter()
  OuterOptimizer(program.outerSolver, bounds: problem.outerBounds()).project(&phi)
  return (problem, method, phi)
}

/// `calls` hypergradients at φ; a function of its own so that callgrind can
/// collect exactly these (`--toggle-collect='*repeatedHypergradients*'`).
@inline(never)
func repeatedHypergradients(
  _ problem: BilevelProblem, _ method: HypergradientMethod, _ phi: [Double], calls: Int
) -> Double {
  var loss = 0.0
  for _ in 0..<calls { loss = (try? problem.hypergradient(method, at: phi).outerLoss) ?? .nan }
  return loss
}

/// Median seconds per hypergradient over ≥ 5 samples of ≥ 20 ms (plans built first).
func secondsPerHypergradient(
  _ problem: BilevelProblem, _ method: HypergradientMethod, _ phi: [Double]
) -> Double {
  medianTime(samples: 5) { _ = repeatedHypergradients(problem, method, phi, calls: 1) }
}

/// `bilevelc-bench profile [--calls N] NAME ...`: N hypergradients per sample
/// after one that builds the plans, for callgrind; prints ms per call.
func profileSamples(_ arguments: [String]) {
  var names: [String] = []
  var calls = 20
  var rest = arguments[...]
  while let a = rest.popFirst() {
    if a == "--calls", let n = rest.popFirst().flatMap({ Int($0) }) {
      calls = n
    } else {
      names.append(a)
    }
  }
  for name in names.isEmpty ? breakdownSamples : names {
    guard let (problem, method, phi) = hypergradientSetup(name) else {
      print("\(name): does not compile")
      continue
    }
    _ = repeatedHypergradients(problem, method, phi, calls: 1)
    let t0 = seconds()
    let loss = repeatedHypergradients(problem, method, phi, calls: calls)
    let ms = (seconds() - t0) / Double(calls) * 1e3
    print("\(name): \(method.description), \(calls) calls, \(format(ms, 3)) ms each, loss \(loss)")
  }
}

/// Seconds of one `clock_gettime` (what each timed instruction adds).
func timerSeconds() -> Double {
  medianTime { for _ in 0..<100 { _ = DispatchTime.now() } } / 100
}

func breakdownSection() -> Section {
  let categories = PlanProfile.Category.allCases
  var s = Section(
    "one hypergradient, where the time goes (µs; 1 thread unless marked)",
    header: ["sample", "ms 1T", "ms 2T", "runs", "instr."] + categories.map(\.name) + [
      "dispatch", "outside plans", "hand-off 2T",
    ])
  let timer = timerSeconds()
  for name in breakdownSamples {
    guard let (problem, method, phi) = hypergradientSetup(name) else { continue }
    let threads = problem.threads
    problem.threads = 2
    let twoThreads = secondsPerHypergradient(problem, method, phi)
    problem.threads = 1
    let oneThread = secondsPerHypergradient(problem, method, phi)
    let calls = max(3, Int(0.2 / oneThread))
    PlanProfile.start()
    let t0 = seconds()
    _ = repeatedHypergradients(problem, method, phi, calls: calls)
    let wall = (seconds() - t0) / Double(calls)
    let totals = PlanProfile.stop()
    problem.threads = threads
    let perCall = 1e6 / Double(calls)
    let instructions = totals.instructions.reduce(0, +)
    // Each timed instruction carries about one timer call; so does the gap after it.
    let kernel = categories.map { c in
      max(0, totals.seconds[c.rawValue] - Double(totals.instructions[c.rawValue]) * timer)
    }
    let dispatch = max(
      0, totals.runSeconds - totals.seconds.reduce(0, +) - Double(instructions) * timer)
    // Plan time unprofiled is wall 1T minus what the solver does between runs.
    let outside = max(0, wall - totals.runSeconds / Double(calls))
    s.add(
      [
        name, format(oneThread * 1e3, 3), format(twoThreads * 1e3, 3),
        "\(totals.runs / calls)", "\(instructions / calls)",
      ] + kernel.map { format($0 * perCall) } + [
        format(dispatch * perCall), format(outside * 1e6), format(handOff(problem.tasks) * 1e6),
      ])
  }
  s.note(
    "kernels: PlanProfile's per-instruction times less one clock read each (\(format(timer * 1e9)) ns); dispatch: the plan runs' time outside the instructions"
  )
  s.note(
    "outside plans: the profiled call's wall time minus its plan runs (solver loops, copies, allocation); hand-off: one TaskParallel.map of empty bodies over the tasks on 2 threads"
  )
  return s
}

/// Seconds of one TaskParallel.map over `tasks` empty bodies on 2 threads.
func handOff(_ tasks: Int) -> Double {
  medianTime { _ = TaskParallel.map(tasks, threads: 2) { $0 } }
}
