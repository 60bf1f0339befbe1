import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation

// Meta-learning: one MAML meta-gradient as the number of tasks grows, with
// the tasks on one thread and on two (TaskParallel), and its memory.

/// MAML on sinusoid regression (Finn et al. 2017, §5.1) with M tasks: a
/// 1-40-40-1 tanh network whose initialisation φ (1,761 numbers) each task
/// copies and adapts with 5 gd steps on its 10 support points, scored on 10
/// query points. Task t: y = amp·sin(x − phase), amp ∈ [0.1, 5], phase ∈
/// [0, π], x ∈ [−5, 5], drawn with seeds k·1000 + t (distinct for M < 1000).
func mamlText(tasks M: Int) -> String {
  """
  tasks t in 1..\(M)
  dim h = 40, ns = 10, nq = 10
  data amp[t] = 0.1 + 4.9 * rand(1, seed: 1000 + t)[1]
  data phase[t] = 3.141592653589793 * rand(1, seed: 2000 + t)[1]
  data xs[t] = -5 + 10 * rand(ns, seed: 3000 + t)
  data ys[t] = amp[t] * sin(xs[t] - phase[t])
  data xq[t] = -5 + 10 * rand(nq, seed: 4000 + t)
  data yq[t] = amp[t] * sin(xq[t] - phase[t])
  outer W1: matrix[1, h] = 0.5 * randn(1, h, seed: 1)
  outer b1: vector[h] = 0.5 * randn(h, seed: 2)
  outer W2: matrix[h, h] = 0.15 * randn(h, h, seed: 3)
  outer b2: vector[h] = 0
  outer W3: matrix[h, 1] = 0.1 * randn(h, 1, seed: 4)
  outer b3: scalar = 0
  inner V1[t]: matrix[1, h] = W1
  inner c1[t]: vector[h] = b1
  inner V2[t]: matrix[h, h] = W2
  inner c2[t]: vector[h] = b2
  inner V3[t]: matrix[h, 1] = W3
  inner c3[t]: scalar = b3
  def net(V1, c1, V2, c2, V3, c3, x) = tanh(tanh(outer(x, V1[1]) + c1) @ V2 + c2) @ V3[:, 1] + c3
  inner loss[t] = mean((net(V1[t], c1[t], V2[t], c2[t], V3[t], c3[t], xs[t]) - ys[t])^2)
  outer loss = mean over t: mean((net(V1[t], c1[t], V2[t], c2[t], V3[t], c3[t], xq[t]) - yq[t])^2)
  solve inner with gd(lr: 0.01, steps: 5)
  hypergradient with unroll(reverse)
  solve outer with adam(lr: 0.01, steps: 10)
  """
}

/// Builds every plan unroll(reverse) calls, task by task on `threads`
/// threads; their arenas' doubles.
func buildReversePlans(_ problem: BilevelProblem, threads: Int) -> Int {
  let perTask = TaskParallel.map(problem.tasks, threads: threads) { t in
    [
      problem.initial(t).function, problem.step(t).function, problem.tapedPullback(t).function,
      problem.initialPullback(t).function,
      problem.innerGradient(t).function, problem.outerGradientInner(t).function,
    ].map { (ObjectIdentifier($0.plan), arenaDoubles($0)) }
  }
  // Tasks that share plan code run on one arena per thread: each counted once.
  var arenas: [ObjectIdentifier: Int] = [:]
  for (plan, doubles) in perTask.joined() { arenas[plan] = doubles }
  return arenas.values.reduce(0, +) + arenaDoubles(problem.outerGradient.function)
}

func arenaDoubles(_ f: CompiledFunction) -> Int {
  let s = f.plan.statistics
  return s.constants + s.parameters + s.work + s.scratch
}

func mamlTasksSection() -> Section {
  var s = Section(
    "MAML meta-gradient (1-40-40-1 tanh, 5 gd steps, unroll(reverse)) vs tasks M: 1 and 2 threads, memory",
    header: [
      "M", "compile ms", "problem ms", "plans 1T ms", "plans 2T ms", "1T ms", "2T ms", "speedup",
      "solves' speedup",
      "1T ms / task", "bytes held", "plan arenas", "RSS growth 1T", "RSS growth 2T",
    ])
  let method = HypergradientMethod.unrollReverse(checkpoints: nil)
  for M in [5, 25, 100] {
    var compiled: Program?
    let compile = once { compiled = compileBilevel(text: mamlText(tasks: M)) }
    guard let program = compiled else {
      s.note("M = \(M): the program does not compile")
      continue
    }
    var problem: BilevelProblem!
    let build = once { problem = BilevelProblem(program) }
    // Plan building on a fresh problem for each thread count.
    var arenas = 0
    let plans1 = once { arenas = buildReversePlans(problem, threads: 1) }
    let other = BilevelProblem(program)
    let plans2 = once { _ = buildReversePlans(other, threads: 2) }
    let phi = problem.initialOuter()
    func call(_ threads: Int) -> HypergradientResult {
      problem.threads = threads
      return mustSucceed { () throws(SolverFault) in try problem.hypergradient(method, at: phi) }
    }
    let one = call(1), two = call(2)
    if one.gradient.map(\.bitPattern) != two.gradient.map(\.bitPattern) {
      s.note("M = \(M): the gradients on 1 and 2 threads are not bit-identical")
    }
    let t = alternating(rounds: M >= 100 ? 5 : 9, [{ _ = call(1) }, { _ = call(2) }])
    // The inner solves alone: nothing but per-task work, the ceiling of the speedup.
    func solve(_ threads: Int) {
      problem.threads = threads
      _ = mustSucceed { () throws(SolverFault) in try InnerSolver(problem).solve(phi) }
    }
    let solves = alternating(rounds: M >= 100 ? 5 : 9, [{ solve(1) }, { solve(2) }])
    let rss1 = peakResidentGrowth { _ = call(1) }
    let rss2 = peakResidentGrowth { _ = call(2) }
    let rss = { (x: Int?) in x.map { formatBytes(max(0, $0)) } ?? "-" }
    s.add([
      "\(M)", ms(compile), ms(build), ms(plans1), ms(plans2), ms(median(t[0])), ms(median(t[1])),
      times(pairedRatio(t[0], t[1])),
      times(pairedRatio(solves[0], solves[1])),
      ms(median(t[0]) / Double(M)), formatBytes(one.peakDoubles * 8), formatBytes(arenas * 8),
      rss(rss1), rss(rss2),
    ])
  }
  s.note(
    "one meta-gradient = problem.hypergradient(unroll(reverse)) at the initial φ (m = 1761, d = 1761 per task): the tasks' forward"
  )
  s.note(
    "  sweeps, the outer gradients, the tasks' reverse sweeps; 1T/2T: problem.threads; medians of alternating calls after a warm-up;"
  )
  s.note(
    "  speedup = the median of the paired ratios 1T / 2T; the gradients are bit-identical (noted otherwise); solves' speedup:"
  )
  s.note(
    "  the same for InnerSolver.solve alone (the 5 forward steps of every task: per-task work only)"
  )
  s.note(
    "compile = parse, elaborate (the tasks' data) and simplify; problem = BilevelProblem (solver graphs); plans = every plan the method"
  )
  s.note(
    "  calls (per task: θ₀, step, taped pullback, θ₀ pullback, ∇θ L_in, ∂L_out/∂θ_t; and the outer gradient), on a fresh problem"
  )
  s.note(
    "bytes held = tapes (5 states + residuals per task) and working vectors at the peak (HypergradientResult.peakDoubles);"
  )
  s.note(
    "  plan arenas = those plans' constants, parameters, work and scratch; RSS growth = peak resident set during one call less before it"
  )
  return s
}
