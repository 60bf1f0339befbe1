import BilevelCore
import BilevelVectorMath
import Foundation

/// Elements per second for each transcendental: libm one element at a time
/// against BilevelVectorMath's loop on the active path, and its one-lane
/// form (the reference evaluator's and the loops' tails).
func transcendentalSection() -> Section {
  var s = Section(
    "transcendentals on \(KernelISA.active.rawValue): 10⁶ elements/s over 4096 entries, libm vs BilevelVectorMath",
    header: ["function", "inputs", "libm", "ours, 1 lane", "ours, 8 lanes", "8 lanes / libm"])
  let n = 4096
  let inputs: [(VectorMath.Function, Double, Double)] = [
    (.exp, -20, 20), (.log, 1e-3, 1e3), (.log1p, -0.9, 10), (.tanh, -4, 4),
    (.sigmoid, -10, 10), (.softplus, -10, 10),
  ]
  let x = UnsafeMutablePointer<Double>.allocate(capacity: n)
  let d = UnsafeMutablePointer<Double>.allocate(capacity: n)
  for (f, lo, hi) in inputs {
    var r = RandomStream(seed: 11)
    for i in 0..<n { x[i] = lo + (hi - lo) * r.nextUniform() }
    // Paired samples, the fastest of each kept: load from other processes
    // hits all three alike and only ever adds time.
    var libm: [Double] = [], one: [Double] = [], eight: [Double] = []
    let reps = calibrate { libmLoop(f, x, d, n) }
    for _ in 0..<7 {
      libm.append(sample(reps) { libmLoop(f, x, d, n) })
      one.append(sample(reps) { TranscendentalLoops.map(f, x, d, n, width: 1) })
      eight.append(sample(reps) { TranscendentalLoops.map(f, x, d, n) })
    }
    let rate = { (t: [Double]) in Double(n) / t.min()! / 1e6 }
    s.add([
      f.rawValue, "[\(format(lo, 3)), \(format(hi, 3))]", format(rate(libm)), format(rate(one)),
      format(rate(eight)), format(libm.min()! / eight.min()!, 2) + "×",
    ])
  }
  x.deallocate()
  d.deallocate()
  s.note(
    "libm: glibc's exp, log, log1p, tanh, and the stable forms of sigmoid and softplus on them; 8 lanes: two AVX2 vectors, or one AVX-512 vector on that path"
  )
  return s
}

@inline(never)
func libmLoop(
  _ f: VectorMath.Function, _ x: UnsafePointer<Double>, _ d: UnsafeMutablePointer<Double>, _ n: Int
) {
  switch f {
  case .exp: for i in 0..<n { d[i] = Foundation.exp(x[i]) }
  case .log: for i in 0..<n { d[i] = Foundation.log(x[i]) }
  case .log1p: for i in 0..<n { d[i] = Foundation.log1p(x[i]) }
  case .tanh: for i in 0..<n { d[i] = Foundation.tanh(x[i]) }
  case .sigmoid:
    for i in 0..<n {
      let v = x[i]
      if v >= 0 {
        d[i] = 1 / (1 + Foundation.exp(-v))
      } else {
        let e = Foundation.exp(v)
        d[i] = e / (1 + e)
      }
    }
  case .softplus:
    for i in 0..<n {
      d[i] = Swift.max(x[i], 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x[i])))
    }
  }
}
