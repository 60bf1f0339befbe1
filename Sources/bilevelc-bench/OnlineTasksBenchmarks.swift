import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation

// Online meta-learning: MAML whose tasks are drawn per outer step from a
// pool (episodes), with the pool's size changed alone: setup and memory
// should not grow with it.

/// samples/maml_digits_5way_1shot.blv's model (body and head, 3 gd steps)
/// with M tasks per outer step drawn from a pool of P, and no reports.
func onlineMamlText(tasks M: Int, pool P: Int) -> String {
  """
  tasks t in 1..\(M)
  dim n = 1200, p = 65, h = 32, w = 5
  data pixels = concat(csv("data/digits.csv") / 16, ones(1797, 1), axis: columns)
  data labels = csv("data/digits_labels.csv")
  data X = pixels[1:n, :]
  data y = labels[1:n]
  episodes s[t], q[t] = classes(y, ways: w, shots: 1, queries: 5, pool: \(P), seed: 3)
  outer B: matrix[p, h] = 0.3 * randn(p, h, seed: 1)
  outer H0: matrix[h, w] = 0
  inner H[t]: matrix[h, w] = H0
  def features(Xr) = tanh(Xr @ B)
  inner loss[t] = mean(cross_entropy(features(X[s[t], :]) @ H[t], y[s[t]], base: 0))
  outer loss = mean over t: mean(cross_entropy(features(X[q[t], :]) @ H[t], y[q[t]], base: 0))
  solve inner with gd(lr: 0.5, steps: 3)
  hypergradient with unroll(reverse)
  solve outer with adam(lr: 0.02, steps: 10)
  """
}

func onlineTasksSection() -> Section {
  var s = Section(
    "Online MAML: 25 tasks per outer step drawn from a pool (5-way 1-shot digits, body + head, 3 gd steps)",
    header: [
      "pool", "compile ms", "problem ms", "plans ms", "plan arenas", "ms / outer step",
      "RSS growth of a step", "RSS growth of setup",
    ])
  let method = HypergradientMethod.unrollReverse(checkpoints: nil)
  var gradients: [[UInt64]] = []
  for pool in [100, 1000, 100, 1000] {
    var compiled: Program?
    var problem: BilevelProblem!
    var arenas = 0
    var compile = 0.0, build = 0.0, plans = 0.0
    let setup = peakResidentGrowth {
      compile = once {
        compiled = compileBilevel(
          path: "samples/online_bench.blv", bytes: Array(onlineMamlText(tasks: 25, pool: pool).utf8)
        )
      }
      guard let program = compiled else { return }
      build = once { problem = BilevelProblem(program) }
      plans = once { arenas = buildReversePlans(problem, threads: 1) }
    }
    guard compiled != nil else {
      s.note("pool \(pool): the program does not compile (run from the package root)")
      continue
    }
    problem.threads = 1
    let phi = problem.initialOuter()
    var k = 0
    func step() {
      _ = mustSucceed { () throws(SolverFault) in
        try problem.hypergradient(method, at: phi, outerStep: k)
      }
      k += 1
    }
    step()
    let t = alternating(rounds: 15, [step])
    let rss = peakResidentGrowth { step() }
    gradients.append(
      mustSucceed { () throws(SolverFault) in
        try problem.hypergradient(method, at: phi, outerStep: 0)
      }
      .gradient.map(\.bitPattern))
    let show = { (x: Int?) in x.map { formatBytes(max(0, $0)) } ?? "-" }
    s.add([
      "\(pool)", ms(compile), ms(build), ms(plans), formatBytes(arenas * 8), ms(median(t[0])),
      show(rss), show(setup),
    ])
  }
  s.note(
    "each pool size twice, interleaved; setup = compile + BilevelProblem + every plan unroll(reverse) calls, on 1 thread;"
  )
  s.note(
    "  ms / outer step: the median of 15 hypergradients at successive outer steps (each draws 25 new tasks)"
  )
  if gradients.count == 4, gradients[0] == gradients[2], gradients[1] == gradients[3] {
    s.note("  the same pool size gives the same bits on both runs")
  }
  return s
}
