import BilevelCore
import BilevelDriver
import BilevelFrontEnd
import BilevelSolvers
import Foundation

// Bandwidth-bound products against the memory bandwidth measured in the
// same run: a STREAM-style triad, the logistic Hessian-vector product as
// one row-block product (X read once) and as the two products it replaces,
// and implicit CG20 on logistic regression at d = 5000, n = 10000.

/// a = b + s·c over `count` doubles, split into parts of one job.
struct Triad {
  let a: UnsafeMutablePointer<Double>
  let b: UnsafePointer<Double>
  let c: UnsafePointer<Double>
  let count: Int
  let parts: Int

  func part(_ p: Int) {
    let lo = p * count / parts, hi = (p + 1) * count / parts
    for i in lo..<hi { a[i] = b[i] + 3 * c[i] }
  }

  /// Runs every part on up to `threads` threads (1: here).
  func run(threads: Int) {
    if threads == 1 { return (0..<parts).forEach(part) }
    withUnsafePointer(to: self) { t in
      KernelThreadPool.shared.run(parts: parts, context: UnsafeRawPointer(t)) { raw, p in
        raw.assumingMemoryBound(to: Triad.self).pointee.part(p)
      }
    }
  }
}

/// GB/s of the triad over 3 × 80 MB (far beyond the L3), 1 and 2 threads.
func triadBandwidth() -> [Int: Double] {
  let count = 10_000_000
  let a = randomBuffer(count, seed: 1), b = randomBuffer(count, seed: 2)
  let c = randomBuffer(count, seed: 3)
  defer { a.deallocate(); b.deallocate(); c.deallocate() }
  let triad = Triad(a: a, b: b, c: c, count: count, parts: 16)
  var result: [Int: Double] = [:]
  for threads in [1, 2] {
    let t = medianTime(samples: 5) { triad.run(threads: threads) }
    result[threads] = 24 * Double(count) / t / 1e9
  }
  return result
}

/// The logistic program the bandwidth figures run, as the solver sections write it.
func logisticLargeText(n: Int, d: Int) -> String {
  logisticText(
    n: n, d: d, solver: "gd", steps: 20, fixedStep: 0.5,
    method: "implicit(cg, iters: 20, tol: 1e-14)")
}

func bandwidthSection() -> Section {
  var s = Section(
    "bandwidth: logistic Hessian-vector product Xᵀ(D (X v)) vs a STREAM triad (same run)",
    header: ["n × d", "X MB", "plan", "X reads", "ms", "GB/s of X", "/ triad 2T"])
  let triad = triadBandwidth()
  for (n, d) in [(400, 2000), (10_000, 5000)] {
    guard let program = compileBilevel(text: logisticLargeText(n: n, d: d)) else {
      s.note("\(n) × \(d): does not compile")
      continue
    }
    let products = SolverProducts(program)
    guard
      let hv = products.products.first(where: { $0.name.hasPrefix("Hessian-vector product") })
    else { continue }
    let leaves = products.leavesAtInitialPoint(seed: 1)
    let pool = ConstantPool(products.program)
    let plans = [true, false].map {
      PlanBuilder.build(products.program, roots: hv.roots, constants: pool, fuseRowBlocks: $0)
    }
    for plan in plans { _ = plan.evaluate(leaves) }
    let t = alternating(rounds: n * d > 10_000_000 ? 9 : 41, plans.map { p in { p.run() } })
    let bytes = 8 * Double(n) * Double(d)
    for (k, plan) in plans.enumerated() {
      // Instructions streaming X: products with it and row-block products.
      let reads = Double(
        plan.instructions.filter { ins in
          switch ins.opcode {
          case .matmul, .rowBlockProduct:
            return Int(ins.k) * max(Int(ins.m), Int(ins.n)) == n * d
          default: return false
          }
        }.count)
      let gbs = reads * bytes / median(t[k]) / 1e9
      s.add([
        "\(n) × \(d)", format(bytes / 1e6), k == 0 ? "row-block product" : "two products",
        format(reads, 0), ms(median(t[k])), format(gbs), format(gbs / (triad[2] ?? .nan), 2),
      ])
    }
    s.note(
      "\(n) × \(d): fused / unfused time \(times(pairedRatio(t[0], t[1]))) (median of paired ratios)"
    )
  }
  s.note(
    "triad a = b + 3c over 3 × 80 MB: \(format(triad[1] ?? .nan)) GB/s on 1 thread, \(format(triad[2] ?? .nan)) GB/s on 2 (24 bytes per entry)"
  )
  s.note(
    "GB/s of X = the bytes of X the plan reads per run / its time (u, w, v and y are ≤ 0.2% of them at 10000 × 5000)"
  )
  s.note(
    "kernel threads: the pool's \(KernelThreadPool.shared.threadCount); \(RowBlockProduct.parts(rows: 10_000, columns: 5000)) parts at 10000 × 5000, summed in part order"
  )
  s.rows += rowBlockThreadRows(triad)
  s.rows += implicitLargeRows(&s, triad)
  s.note(
    "implicit CG: the adjoint after the inner solve (∂L_out/∂θ, CG on H v = ∂L_out/∂θ, the mixed product), median of 5; X read once per CG iteration"
  )
  return s
}

/// The kernel alone on 1 and 2 threads at 10000 × 5000, as in the
/// Hessian-vector product: u₀ = X θ, u₁ = X v, w = u₀·u₁.
func rowBlockThreadRows(_ triad: [Int: Double]) -> [[String]] {
  let (m, n) = (10_000, 5000)
  let a = randomBuffer(m * n, seed: 5)
  let vectors = [randomBuffer(n, seed: 6), randomBuffer(n, seed: 7), randomBuffer(3 * m, seed: 8)]
  let pointers = [vectors[0], vectors[1], vectors[2], vectors[2] + m]
  let y = UnsafeMutablePointer<Double>.allocate(capacity: n)
  let workspace = UnsafeMutablePointer<Double>.allocate(
    capacity: RowBlockProduct.workspaceSize(rows: m, columns: n))
  defer {
    a.deallocate(); y.deallocate(); workspace.deallocate()
    vectors.forEach { $0.deallocate() }
  }
  var rows: [[String]] = []
  for threads in [1, 2] {
    let t = medianTime(samples: 5) {
      pointers.withUnsafeBufferPointer { p in
        RowBlockProduct.multiply(
          rows: m, columns: n, a: a, x: p.baseAddress!, u: p.baseAddress! + 2, count: 2,
          w: vectors[2] + 2 * m, y: y, workspace: workspace,
          weights: { raw, lo, hi, _ in
            let u = raw.assumingMemoryBound(to: UnsafeMutablePointer<Double>.self)
            // w follows u₀ and u₁ (m = 10 000 each) in one buffer.
            for i in lo..<hi { u[0][2 * 10_000 + i] = u[0][i] * u[1][i] }
          }, context: UnsafeRawPointer(p.baseAddress! + 2), threads: threads)
      }
    }
    let gbs = 8 * Double(m * n) / t / 1e9
    rows.append([
      "\(m) × \(n)", format(8 * Double(m * n) / 1e6),
      "kernel alone, \(threads) thread\(threads == 1 ? "" : "s")", "1",
      ms(t), format(gbs), format(gbs / (triad[threads] ?? .nan), 2) + " (\(threads)T)",
    ])
  }
  return rows
}

/// The issue's size for samples/bench/implicit_cg_logistic_large.blv.
let largeImplicitSizes = ["--set", "n=10000", "--set", "nv=2000", "--set", "d=5000"]

/// Implicit CG20 per hypergradient at d = 5000, n = 10000 after the inner
/// solve (samples/bench/implicit_cg_logistic_large.blv).
func implicitLargeRows(_ s: inout Section, _ triad: [Int: Double]) -> [[String]] {
  let path = "samples/bench/implicit_cg_logistic_large.blv"
  let env = Environment(
    currentDirectory: FileManager.default.currentDirectoryPath, readLine: { nil },
    standardOutput: { _ in }, standardError: { _ in }, isTerminal: false)
  guard let program = Driver.compile(largeImplicitSizes + [path], environment: env),
    case .method(.implicitConjugateGradient(let iterations, let tolerance))? = program
      .hypergradient?.spec
  else {
    s.note("\(path): missing or not an implicit(cg) program")
    return []
  }
  let problem = BilevelProblem(program)
  let phi = problem.initialOuter()
  let solution = mustSucceed { () throws(SolverFault) in try InnerSolver(problem).solve(phi) }
  var cg = 0
  let t = alternating(
    rounds: 5,
    [
      {
        cg =
          mustSucceed { () throws(SolverFault) in
            try implicitAdjoint(
              problem, solution, phi, iterations: iterations, tolerance: tolerance)
          }.iterations
      }
    ])[0]
  // X (n × d) is read once per CG iteration (one row-block product each).
  let rows = program.dims.first { $0.name == "n" }?.value ?? 0
  let xBytes = 8 * Double(rows) * Double(problem.innerSize)
  let gbs = Double(cg) * xBytes / median(t) / 1e9
  return [
    [
      "\(rows) × \(problem.innerSize)", format(xBytes / 1e6),
      "implicit CG\(iterations) hypergradient",
      "\(cg)", ms(median(t)), format(gbs), format(gbs / (triad[2] ?? .nan), 2),
    ]
  ]
}
