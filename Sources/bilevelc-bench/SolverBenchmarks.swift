import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation

// The hypergradient methods on realistic programs: unrolled reverse against
// the forward unroll it differentiates, the implicit adjoint solve against
// the inner solve it follows, checkpointing's memory and recomputation, and
// one hypergradient per sample. Times are medians of calls that alternate
// between the sides of each ratio; ratios are medians of per-round ratios.

// MARK: Programs

/// Parse, elaborate and simplify, as the driver does before solving.
func compileBilevel(path: String, bytes: [UInt8]) -> Program? {
  let (source, syntax) = Parser.parse(SourceFile(path: path, bytes: bytes))
  guard syntax.isEmpty,
    let program = MethodDiagnostics.elaborate(source, options: CompileOptions()).program
  else { return nil }
  return program.simplified().program
}

func compileBilevel(text: String) -> Program? {
  compileBilevel(path: "<bench>", bytes: Array(text.utf8))
}

/// Logistic regression with a learned penalty per feature (outer m = d + 1:
/// the log penalties and the log step size). Features are standard normal,
/// so for n ≤ d the Hessian's largest eigenvalue is about (√n + √d)²/(4n)
/// and its smallest 2·exp(loglam): gd's step 0.5 is stable for the sizes here.
func logisticText(
  n: Int, d: Int, solver: String, steps: Int, loglam: Double = -4, fixedStep: Double? = nil,
  method: String = "unroll(reverse)"
) -> String {
  let stepSize = fixedStep.map { "\($0)" } ?? "exp(loglr)"
  let learnedStep =
    fixedStep == nil ? "outer loglr: scalar = \(solver == "adam" ? -4.6 : -0.7)" : ""
  return """
    dim n = \(n), nv = \(n), d = \(d)
    data wt = randn(d, seed: 1)
    data X  = randn(n, d, seed: 2)
    data Xv = randn(nv, d, seed: 3)
    data z  = X @ wt / sqrt(d) + 0.5 * randn(n, seed: 4)
    data zv = Xv @ wt / sqrt(d) + 0.5 * randn(nv, seed: 5)
    data y  = z / abs(z)
    data yv = zv / abs(zv)
    outer loglam: vector[d] = \(loglam)
    \(learnedStep)
    inner w: vector[d] = 0
    inner loss = mean(logistic_loss(y * (X @ w))) + sum(exp(loglam) * w^2)
    outer loss = mean(logistic_loss(yv * (Xv @ w)))
    solve inner with \(solver)(lr: \(stepSize), steps: \(steps))
    hypergradient with \(method)
    solve outer with adam(lr: 0.1, steps: 10)
    """
}

/// A one-hidden-layer tanh network (d = p·h + 2h) with learned log step size
/// and log weight decay.
func mlpText(n: Int, p: Int, h: Int, solver: String, steps: Int) -> String {
  """
  dim n = \(n), nv = \(n), p = \(p), h = \(h)
  data wt = randn(p, seed: 1)
  data X  = randn(n, p, seed: 2)
  data Xv = randn(nv, p, seed: 3)
  data y  = tanh(X @ wt / sqrt(p)) + 0.1 * randn(n, seed: 4)
  data yv = tanh(Xv @ wt / sqrt(p)) + 0.1 * randn(nv, seed: 5)
  data W0 = randn(p, h, seed: 6) / sqrt(p)
  data v0 = randn(h, seed: 7) / sqrt(h)
  outer loglr: scalar = \(solver == "adam" ? -6 : -3)
  outer logwd: scalar = -6
  inner W: matrix[p, h] = W0
  inner b: vector[h] = 0
  inner v: vector[h] = v0
  def net(A, W, b, v) = tanh(A @ W + b) @ v
  inner loss = mean((net(X, W, b, v) - y)^2) + exp(logwd) * (sum(W^2) + sum(v^2))
  outer loss = mean((net(Xv, W, b, v) - yv)^2)
  solve inner with \(solver)(lr: exp(loglr), steps: \(steps))
  hypergradient with unroll(reverse)
  solve outer with adam(lr: 0.1, steps: 10)
  """
}

struct BenchProblem {
  let label: String
  let problem: BilevelProblem
  let phi: [Double]
  init?(_ label: String, _ text: String) {
    guard let program = compileBilevel(text: text) else { return nil }
    self.label = label
    problem = BilevelProblem(program)
    phi = problem.initialOuter()
  }
}

// MARK: Timing

/// Seconds of one call.
func once<E: Error>(_ body: () throws(E) -> Void) throws(E) -> Double {
  let t0 = seconds()
  try body()
  return seconds() - t0
}

/// Seconds per call of each side over `rounds` rounds, after one warm-up
/// call each (plans, caches); the sides alternate so that all see the same
/// machine while other work comes and goes.
func alternating(rounds: Int, _ sides: [() -> Void]) -> [[Double]] {
  for side in sides { side() }
  var t = [[Double]](repeating: [], count: sides.count)
  for _ in 0..<rounds {
    for (k, side) in sides.enumerated() { t[k].append(once(side)) }
  }
  return t
}

/// The median over rounds of a / b measured in the same round: robust to a
/// slow stretch of the machine, which slows both sides of a round.
func pairedRatio(_ a: [Double], _ b: [Double]) -> Double { median(zip(a, b).map { $0 / $1 }) }

func ms(_ s: Double) -> String { format(s * 1e3, s < 0.01 ? 3 : s < 0.1 ? 2 : 1) }

func times(_ x: Double) -> String { format(x, 2) + "×" }

func mustSucceed<T>(_ body: () throws(SolverFault) -> T) -> T {
  do { return try body() } catch { fatalError("bench: \(error.message)") }
}

// MARK: 1. Unrolled reverse vs the forward unroll

func unrollCostSection() -> Section {
  var s = Section(
    "unroll(reverse) hypergradient vs the forward unroll alone (T inner steps; target ≤ 2.5×)",
    header: [
      "program", "d", "state", "m", "T", "forward ms", "reverse ms", "reverse / forward", "target",
      "Φ µs", "VJP µs", "VJP / Φ",
    ])
  let configs: [(String, String, Int)] = [
    ("logistic n=400 gd", logisticText(n: 400, d: 2000, solver: "gd", steps: 200), 200),
    (
      "  same, lr fixed 0.5",
      logisticText(n: 400, d: 2000, solver: "gd", steps: 200, fixedStep: 0.5), 200
    ),
    ("logistic n=400 adam", logisticText(n: 400, d: 2000, solver: "adam", steps: 200), 200),
    ("mlp 32-128-1 n=256 gd", mlpText(n: 256, p: 32, h: 128, solver: "gd", steps: 100), 100),
    ("mlp 32-128-1 n=256 adam", mlpText(n: 256, p: 32, h: 128, solver: "adam", steps: 100), 100),
  ]
  for (label, text, T) in configs {
    guard let b = BenchProblem(label, text) else {
      s.note("\(label): does not compile")
      continue
    }
    var runner = FixedStepRunner(b.problem, task: 0, steps: T)
    let t = alternating(
      rounds: 7,
      [
        { _ = mustSucceed { () throws(SolverFault) in try runner.run(b.phi) } },
        {
          _ = mustSucceed { () throws(SolverFault) in
            try b.problem.hypergradient(.unrollReverse(checkpoints: nil), at: b.phi)
          }
        },
      ])
    let r = pairedRatio(t[1], t[0])
    // One step's plan and its pullback's, on the arguments the last sweep left loaded.
    let step = b.problem.step(0), pullback = b.problem.tapedPullback(0)
    let plans = alternating(
      rounds: 5, [{ for _ in 0..<20 { step.run() } }, { for _ in 0..<20 { pullback.run() } }])
    s.add([
      label, "\(b.problem.innerSize)", "\(b.problem.stateSize)", "\(b.problem.outerSize)", "\(T)",
      ms(median(t[0])),
      ms(median(t[1])), times(r), r <= 2.5 ? "≤ 2.5× ok" : "≤ 2.5× MISSED",
      format(median(plans[0]) / 20 * 1e6, 1), format(median(plans[1]) / 20 * 1e6, 1),
      times(pairedRatio(plans[1], plans[0])),
    ])
  }
  s.note(
    "reverse = problem.hypergradient(unroll(reverse)): taped forward sweep + outer gradients + T step pullbacks + θ₀ pullback;"
  )
  s.note(
    "  forward = FixedStepRunner.run alone; medians of 7 alternating calls, the ratio the median of the 7 paired ratios"
  )
  s.note(
    "Φ, VJP: one run of the step plan [s, φ] → Φ(s), L_in, residuals and of its taped pullback [s, φ, u, residuals] → (∂Φ/∂s)ᵀu, (∂Φ/∂φ)ᵀu;"
  )
  s.note("  reverse / forward ≈ 1 + VJP / Φ, so the target needs VJP ≤ 1.5 Φ")
  return s
}

// MARK: 2. Implicit adjoint vs the inner solve

/// What `implicit(cg)` does once the inner problem is solved, through the
/// public functions: ∂L_out/∂θ, the adjoint CG on H v = ∂L_out/∂θ (each
/// product checked finite, as the engine does), and g = ∂φL_out − (∂²L_in/∂φ∂θ) v.
func implicitAdjoint(
  _ problem: BilevelProblem, _ solution: InnerSolution, _ phi: [Double], iterations: Int,
  tolerance: Double
) throws(SolverFault) -> (gradient: [Double], iterations: Int) {
  let all = solution.theta.flatMap { $0 }
  let outer = problem.outerGradient
  outer.load(.allTheta, all)
  outer.load(.phi, phi)
  outer.run()
  var g = outer.result(.gradient)
  var worst = 0
  for t in 0..<problem.tasks {
    let inner = problem.outerGradientInner(t)
    inner.load(.allTheta, all)
    inner.load(.phi, phi)
    inner.run()
    let rhs = inner.result(.gradient)
    let hv = problem.hessianVector(t)
    let theta = solution.theta[t]
    let (v, report) = try IterativeSolvers.conjugateGradient(
      rhs, iterations: iterations, tolerance: tolerance
    ) {
      (x: [Double], y: inout [Double]) throws(SolverFault) in
      hv.load(.theta, theta)
      hv.load(.phi, phi)
      hv.load(.direction, x)
      hv.run()
      hv.store(.product, into: &y)
      guard y.allSatisfy(\.isFinite) else {
        throw SolverFault(.nonFinite, "non-finite Hessian-vector product")
      }
    }
    worst = max(worst, report.iterations)
    let mixed = problem.mixed(t)
    mixed.load(.theta, theta)
    mixed.load(.phi, phi)
    mixed.load(.direction, v)
    mixed.run()
    mixed.accumulate(.product, into: &g, scale: -1)
  }
  return (g, worst)
}

func implicitCostSection() -> Section {
  var s = Section(
    "implicit(cg) after the inner solve vs the inner solve (target ≤ 0.5×)",
    header: [
      "program", "d", "inner solver", "cg iters", "solve ms", "adjoint ms", "adjoint / solve",
      "target",
      "(hg − solve) / solve",
    ])
  var configs: [(String, Program?)] = []
  for (solver, iters) in [("gd", 20), ("adam", 50)] {
    let text = logisticText(
      n: 400, d: 2000, solver: solver, steps: 300, loglam: -6,
      method: "implicit(cg, iters: \(iters), tol: 1e-10)")
    configs.append(("logistic d=2000 n=400", compileBilevel(text: text)))
  }
  for name in ["quickstart", "feature_penalties_implicit_cg", "pretraining_finetune"] {
    let path = "samples/\(name).blv"
    configs.append(
      (
        name,
        FileManager.default.contents(atPath: path).flatMap {
          compileBilevel(path: path, bytes: [UInt8]($0))
        }
      ))
  }
  for (label, program) in configs {
    guard let program,
      case .method(.implicitConjugateGradient(let iterations, let tolerance))? = program
        .hypergradient?.spec
    else {
      s.note("\(label): does not compile to an implicit(cg) program")
      continue
    }
    let problem = BilevelProblem(program)
    let phi = problem.initialOuter()
    let solver = InnerSolver(problem)
    let method = HypergradientMethod.implicitConjugateGradient(
      iterations: iterations, tolerance: tolerance)
    let solution = mustSucceed { () throws(SolverFault) in try solver.solve(phi) }
    // The replica must compute what the engine does.
    let replica = mustSucceed { () throws(SolverFault) in
      try implicitAdjoint(problem, solution, phi, iterations: iterations, tolerance: tolerance)
    }
    let engine = mustSucceed { () throws(SolverFault) in try problem.hypergradient(method, at: phi)
    }.gradient
    let difference = zip(replica.gradient, engine).map { abs($0 - $1) }.max() ?? 0
    let t = alternating(
      rounds: 7,
      [
        { _ = mustSucceed { () throws(SolverFault) in try solver.solve(phi) } },
        {
          _ = mustSucceed { () throws(SolverFault) in
            try implicitAdjoint(
              problem, solution, phi, iterations: iterations, tolerance: tolerance)
          }
        },
        {
          _ = mustSucceed { () throws(SolverFault) in try problem.hypergradient(method, at: phi) }
        },
      ])
    let r = pairedRatio(t[1], t[0])
    let subtracted = median(zip(t[2], t[0]).map { ($0 - $1) / $1 })
    let inner = "\(program.innerSolver?.name ?? "?") T=\(solution.steps)"
    s.add([
      label, "\(problem.innerSize)", inner, "\(replica.iterations)/\(iterations)", ms(median(t[0])),
      ms(median(t[1])),
      times(r), r <= 0.5 ? "≤ 0.5× ok" : "≤ 0.5× MISSED", times(subtracted),
    ])
    if difference != 0 {
      s.note("\(label): the replica's gradient differs from the engine's by \(difference)")
    }
  }
  s.note(
    "adjoint = ∂L_out/∂θ and ∂L_out/∂φ, CG on H v = ∂L_out/∂θ, one mixed product: the engine's work after InnerSolver.solve, through"
  )
  s.note(
    "  public functions (its gradient equals problem.hypergradient's bit for bit unless noted); medians of 7 alternating calls,"
  )
  s.note(
    "  ratios the median of paired ratios; (hg − solve) / solve: the whole implicit hypergradient less the solve, a noisier cross-check"
  )
  return s
}

// MARK: 3. Checkpointing

/// VmRSS or VmHWM of this process from /proc/self/status, in bytes.
func residentBytes(_ field: String) -> Int? {
  guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
    let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
    let kB = Int(line.split(separator: " ").dropFirst().first ?? "")
  else { return nil }
  return kB * 1024
}

/// How far the resident set rose above its size before `body`, at its
/// highest during it. Free heap pages go back to the kernel first
/// (malloc_trim), so reused heap memory shows as growth, and the kernel's
/// high-water mark restarts at the current size (clear_refs 5, Linux ≥ 4.0).
/// Nil where /proc does not allow that.
func peakResidentGrowth(_ body: () -> Void) -> Int? {
  typealias Trim = @convention(c) (Int) -> Int32
  if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {  // RTLD_DEFAULT
    _ = unsafeBitCast(symbol, to: Trim.self)(0)
  }
  guard let reset = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return nil }
  reset.write(Data("5".utf8))
  try? reset.close()
  guard let before = residentBytes("VmRSS") else { return nil }
  body()
  guard let peak = residentBytes("VmHWM") else { return nil }
  return peak - before
}

func checkpointSection() -> Section {
  let T = 1000
  var s = Section(
    "unroll(reverse, checkpoints: k) at T = \(T): memory, recomputation (target ≤ 1.1× optimal), time",
    header: [
      "method", "peak states", "bytes held", "RSS growth", "recomputed", "optimal", "ratio",
      "retaken",
      "target",
      "time ms", "time / plain",
    ])
  guard let b = BenchProblem("logistic", logisticText(n: 200, d: 1000, solver: "gd", steps: T))
  else {
    s.note("the benchmark program does not compile")
    return s
  }
  let stateBytes = b.problem.stateSize * 8
  let ks: [Int?] = [nil, 5, 10, 20, 32]
  var results: [HypergradientResult] = []
  var growth: [Int?] = []
  _ = mustSucceed { () throws(SolverFault) in
    try b.problem.hypergradient(.unrollReverse(checkpoints: nil), at: b.phi)
  }  // plans
  for k in ks {
    var result: HypergradientResult?
    growth.append(
      peakResidentGrowth {
        result = mustSucceed { () throws(SolverFault) in
          try b.problem.hypergradient(.unrollReverse(checkpoints: k), at: b.phi)
        }
      })
    results.append(result!)
  }
  // Timing apart from the memory runs: three alternating rounds.
  var t = [[Double]](repeating: [], count: ks.count)
  for _ in 0..<3 {
    for (i, k) in ks.enumerated() {
      t[i].append(
        once {
          _ = mustSucceed { () throws(SolverFault) in
            try b.problem.hypergradient(.unrollReverse(checkpoints: k), at: b.phi)
          }
        })
    }
  }
  let reference = results[0].gradient
  for (i, k) in ks.enumerated() {
    let r = results[i]
    let bytes = formatBytes(r.peakDoubles * 8)
    let heap = growth[i].map { formatBytes(max(0, $0)) } ?? "-"
    let time = median(t[i])
    guard let k else {
      s.add([
        "plain reverse", "\(r.peakStates) (T+1 = \(T + 1))", bytes, heap, "0", "0", "-", "0", "",
        ms(time), "1.00×",
      ])
      continue
    }
    let recomputed = r.forwardSteps - 1
    let optimal = CheckpointSchedule.optimalRecomputation(steps: T, snapshots: k)
    let ratio = Double(recomputed) / Double(max(1, optimal))
    s.add([
      "checkpoints: \(k)", "\(r.peakStates)", bytes, heap, "\(recomputed)", "\(optimal)",
      format(ratio, 3), "\(r.retakenSteps)",
      ratio <= 1.1 ? "≤ 1.1 ok" : "≤ 1.1 MISSED", ms(time), times(pairedRatio(t[i], t[0])),
    ])
    if r.gradient != reference {
      s.note("checkpoints: \(k): the gradient is not bit-identical to plain reverse's")
    }
  }
  s.note(
    "logistic d = \(b.problem.innerSize), gd: state \(b.problem.stateSize) doubles = \(formatBytes(stateBytes)), residuals \(b.problem.residualSize) doubles per taped step; bytes held = states and residuals at the peak"
  )
  s.note(
    "peakStates as the engine reports it (tape or snapshots + working state + cotangent; checkpointing adds each snapshot's step residuals and one retaken step's); recomputed = forwardSteps − 1; retaken = steps run again for their residuals alone"
  )
  s.note(
    "RSS growth: peak resident set during one call (VmHWM, reset by /proc/self/clear_refs after malloc_trim) minus VmRSS before it;"
  )
  s.note("  all the call's memory (schedule, results, page granularity), not only states")
  s.note("time: median of 3 alternating calls; time / plain the median of the paired ratios")
  return s
}

// MARK: 4. One hypergradient per sample

func sampleHypergradientSection() -> Section {
  var s = Section(
    "one hypergradient per sample at the initial point (after a first call that builds the plans)",
    header: [
      "sample", "method", "d", "m", "problem ms", "first call ms", "hypergradient ms", "outer loss",
    ])
  for path in sampleFiles() {
    let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    guard let bytes = FileManager.default.contents(atPath: path),
      let program = compileBilevel(path: path, bytes: [UInt8](bytes))
    else {
      s.add([name, "does not compile", "", "", "", "", "", ""])
      continue
    }
    var problem: BilevelProblem!
    let build = once { problem = BilevelProblem(program) }
    let method = MethodSelection(problem).method
    let phi = problem.initialOuter()
    do throws(SolverFault) {
      var result: HypergradientResult!
      let first = try once { () throws(SolverFault) in
        result = try problem.hypergradient(method, at: phi)
      }
      // Median of at least 3 calls, more while under 0.3 s in all.
      var t: [Double] = []
      while t.count < 3 || (t.count < 21 && t.reduce(0, +) < 0.3) {
        t.append(
          try once { () throws(SolverFault) in _ = try problem.hypergradient(method, at: phi) })
      }
      s.add([
        name, method.description, "\(problem.innerSize)", "\(problem.outerSize)", ms(build),
        ms(first), ms(median(t)),
        formatValue(result.outerLoss),
      ])
    } catch {
      s.add([
        name, method.description, "\(problem.innerSize)", "\(problem.outerSize)", ms(build),
        "fault: \(error.message)", "", "",
      ])
    }
  }
  s.note(
    "problem = BilevelProblem(program) (solver graphs derived); first call builds the plans it uses; then the median of ≥ 3 calls"
  )
  return s
}
