import BilevelCore
import BilevelSolvers
import Foundation

/// The elementwise part of a tanh MLP layer and its backward step as one
/// fused plan: y = tanh(W ⊙ x + b) and (1 − y²) ⊙ g, against the same
/// formula as a hand-written libm loop.
func tanhLayerSection() -> Section {
  var s = Section(
    "fused tanh layer on \(KernelISA.active.rawValue): (1 − tanh(a ⊙ x + b)²) ⊙ g, a: 40 × n, x, b, g broadcast rows",
    header: ["n", "entries", "plan ns/entry", "libm loop ns/entry", "plan / loop"])
  for n in [40, 256, 2048] {
    let entries = 40 * n
    var g = Graph()
    let a = g.make(.variable(0), shape: .matrix(40, n))
    let x = g.make(.variable(1), shape: .vector(n))
    let b = g.make(.variable(2), shape: .vector(n))
    let grad = g.make(.variable(3), shape: .vector(n))
    let y = g.make(
      .unary(.tanh), [g.make(.binary(.add), [g.make(.binary(.multiply), [a, x]), b])])
    let slope = g.make(
      .binary(.subtract), [g.constant(1), g.make(.binary(.power), [y, g.constant(2)])])
    let root = g.make(.binary(.multiply), [slope, grad])
    let shapes: [Shape] = [.matrix(40, n), .vector(n), .vector(n), .vector(n)]
    let plan = PlanBuilder.build(benchProgram(g, variables: shapes), roots: [root])
    let values = shapes.enumerated().map {
      RandomStream.normal(shape: $1, seed: UInt64($0 + 1)).scalars
    }
    for (k, v) in values.enumerated() { plan.write(.variable(k), v) }
    let pa = UnsafeMutablePointer<Double>.allocate(capacity: entries)
    let po = UnsafeMutablePointer<Double>.allocate(capacity: entries)
    pa.initialize(from: values[0], count: entries)
    let (px, pb, pg) = (values[1], values[2], values[3])
    var planTimes: [Double] = [], loopTimes: [Double] = []
    let reps = calibrate { plan.run() }
    for _ in 0..<7 {
      planTimes.append(sample(reps) { plan.run() })
      loopTimes.append(
        sample(reps) {
          for i in 0..<40 {
            for j in 0..<n {
              let t = Foundation.tanh(pa[i * n + j] * px[j] + pb[j])
              po[i * n + j] = (1 - t * t) * pg[j]
            }
          }
        })
    }
    pa.deallocate()
    po.deallocate()
    // The fastest of 7 paired samples: other processes only ever add time.
    let (planTime, loopTime) = (planTimes.min()!, loopTimes.min()!)
    s.add([
      "\(n)", "\(entries)", format(planTime * 1e9 / Double(entries), 2),
      format(loopTime * 1e9 / Double(entries), 2), format(planTime / loopTime, 2) + "×",
    ])
  }
  return s
}

/// The MLP meta-learning samples: ms per hypergradient at the initial
/// point after a first call that builds the plans, fastest and median of 31,
/// with the tasks on one thread and on two.
func mlpSamplesSection() -> Section {
  var s = Section(
    "MLP samples: one hypergradient at the initial point (after a first call that builds the plans)",
    header: ["sample", "method", "threads", "fastest ms", "median ms", "outer loss"])
  for name in ["maml_mlp_five_steps", "fomaml_mlp_five_steps"] {
    let path = "samples/\(name).blv"
    guard let bytes = FileManager.default.contents(atPath: path),
      let program = compileBilevel(path: path, bytes: [UInt8](bytes))
    else {
      s.add([name, "does not compile", "", "", "", ""])
      continue
    }
    let problem = BilevelProblem(program)
    let method = MethodSelection(problem).method
    let phi = problem.initialOuter()
    for threads in [1, 2] {
      problem.threads = threads
      var loss = Double.nan
      var t: [Double] = []
      do throws(SolverFault) {
        loss = try problem.hypergradient(method, at: phi).outerLoss
        for _ in 0..<31 {
          t.append(
            try once { () throws(SolverFault) in _ = try problem.hypergradient(method, at: phi) })
        }
      } catch {
        s.add([name, method.description, "\(threads)", "fault: \(error.message)", "", ""])
        continue
      }
      s.add([
        name, method.description, "\(threads)", ms(t.min()!), ms(median(t)), formatValue(loss),
      ])
    }
  }
  return s
}
