import BilevelCore
import Foundation

/// The sections whose kernels take the process-wide path (the fused loops
/// inside plans, the factorizations' GEMMs and row updates), each run in a
/// child process forced onto one path with BILEVELC_ISA, in turn.
func pathSections() -> Section {
  var s = Section(
    "fused loops and factorizations on every ISA path (one child process per path)", header: [])
  for isa in KernelISA.supported {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    process.arguments = ["--path-sections"]
    var environment = ProcessInfo.processInfo.environment
    environment[KernelISA.environmentVariable] = isa.rawValue
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    guard (try? process.run()) != nil else {
      s.note("\(isa.rawValue): cannot start \(CommandLine.arguments[0])")
      continue
    }
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    s.note("-- \(isa.rawValue) path:")
    s.notes += text.split(separator: "\n").map { "  " + $0 }
  }
  return s
}

/// Dense Cholesky and LU (each on a fresh copy of the matrix, as numpy's
/// calls copy theirs) against numpy.linalg's LAPACK, on one and two threads.
func factorizationSection(_ numpy: Numpy) -> Section {
  var s = Section(
    "dense factorizations on \(KernelISA.active.rawValue), GFLOP/s",
    header: ["n", "threads", "Cholesky", "numpy", "ratio", "LU", "numpy", "ratio"])
  for n in [500, 1000, 2000] {
    let a = randomBuffer(n * n, seed: 7)
    let spd = UnsafeMutablePointer<Double>.allocate(capacity: n * n)
    // A·Aᵀ + n·I: well conditioned, positive definite.
    let ws = UnsafeMutablePointer<Double>.allocate(capacity: GEMM.workspaceSize(m: n, n: n, k: n))
    GEMM.multiply(
      m: n, n: n, k: n, a: a, lda: n, b: a, ldb: n, transposeB: true, c: spd, ldc: n, workspace: ws)
    for i in 0..<n { spd[i * n + i] += Double(n) }
    let work = UnsafeMutablePointer<Double>.allocate(capacity: n * n)
    let pivots = UnsafeMutablePointer<Int>.allocate(capacity: n)
    let factorSpace = UnsafeMutablePointer<Double>.allocate(
      capacity: max(1, Cholesky.workspaceSize(n: n), LU.workspaceSize(n: n)))
    let cube = Double(n) * Double(n) * Double(n)
    for threads in [1, 2] {
      let chol = pairedMedians(numpy: numpy, op: "cholesky", n: n, threads: threads) {
        work.update(from: spd, count: n * n)
        _ = Cholesky.factor(n: n, a: work, lda: n, workspace: factorSpace, threads: threads)
      }
      let lu = pairedMedians(numpy: numpy, op: "lu", n: n, threads: threads) {
        work.update(from: a, count: n * n)
        _ = LU.factor(
          n: n, a: work, lda: n, pivots: pivots, workspace: factorSpace, threads: threads)
      }
      s.add(
        ["\(n)", "\(threads)"]
          + compare(cube / 3 / chol.ours / 1e9, chol.numpy.map { cube / 3 / $0 / 1e9 })
          + compare(2 * cube / 3 / lu.ours / 1e9, lu.numpy.map { 2 * cube / 3 / $0 / 1e9 }))
    }
    [a, spd, work, ws, factorSpace].forEach { $0.deallocate() }
    pivots.deallocate()
  }
  s.note(
    "flops n³/3 (Cholesky) and 2n³/3 (LU); numpy: linalg.cholesky and linalg.det (LAPACK dpotrf, dgetrf), its kernel: \(numpy.description)"
  )
  return s
}

/// GEMM blocking candidates timed round-robin (one sample of each per
/// round, so load that comes and goes hits all alike), one thread, on the
/// active path: how `GEMMBlocking.default` was chosen. mc and nc move no
/// bits; kc fixes the summation grouping, so changing it changes results.
func blockingSection() -> Section {
  let d = GEMMBlocking.default
  var candidates: [GEMMBlocking] = []
  for kc in [256, 384, 512] {
    for mc in [80, 120, 160, 240] {
      for nc in [2048, 4096] {
        candidates.append(
          GEMMBlocking(mc: mc, kc: kc, nc: nc, parallelThreshold: d.parallelThreshold))
      }
    }
  }
  let sizes = [512, 1024, 2000]
  var s = Section(
    "GEMM blocking on \(KernelISA.active.rawValue), one thread, GFLOP/s (median of 5 round-robin samples)",
    header: ["mc", "kc", "nc"] + sizes.map { "n = \($0)" })
  var cells = [[String]](repeating: [], count: candidates.count)
  for n in sizes {
    let a = randomBuffer(n * n, seed: 1), b = randomBuffer(n * n, seed: 2)
    let c = UnsafeMutablePointer<Double>.allocate(capacity: n * n)
    let size = candidates.map { GEMM.workspaceSize(m: n, n: n, k: n, blocking: $0) }.max()!
    let ws = UnsafeMutablePointer<Double>.allocate(capacity: size)
    let bodies = candidates.map { blocking in
      {
        GEMM.multiply(
          m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: n, workspace: ws,
          blocking: blocking, threads: 1)
      }
    }
    let reps = bodies.map { calibrate($0) }
    var times = [[Double]](repeating: [], count: candidates.count)
    for _ in 0..<5 {
      for (i, body) in bodies.enumerated() { times[i].append(sample(reps[i], body)) }
    }
    let flops = 2 * Double(n) * Double(n) * Double(n)
    for i in candidates.indices { cells[i].append(format(flops / median(times[i]) / 1e9)) }
    a.deallocate(); b.deallocate(); c.deallocate(); ws.deallocate()
  }
  for (i, b) in candidates.enumerated() {
    let mark = b == d ? " (default)" : ""
    s.add(["\(b.mc)\(mark)", "\(b.kc)", "\(b.nc)"] + cells[i])
  }
  return s
}
