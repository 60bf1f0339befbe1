import Foundation

/// numpy on the same machine, in the same run: one python3 child per BLAS
/// thread count, kept alive and asked for one timed sample at a time, so
/// numpy's samples interleave with ours (a machine whose load changes
/// during the run then skews both sides alike).
final class Numpy {
  /// Threads → a running child; empty when python3 or numpy is missing.
  private var probes: [Int: NumpyProbe] = [:]
  /// numpy's version and BLAS, or why it is unavailable.
  private(set) var description = "not measured"

  var available: Bool { !probes.isEmpty }

  init(threadCounts: [Int]) {
    for threads in threadCounts {
      switch NumpyProbe.start(threads: threads) {
      case .failure(let message):
        description = "not available (\(message)); ratios skipped"
        shutdown()
        return
      case .success(let (probe, info)):
        probes[threads] = probe
        if threads == threadCounts.first { description = info }
      }
    }
  }

  /// Ends the children (closing their stdin) and waits for them.
  func shutdown() {
    for probe in probes.values { probe.finish() }
    probes = [:]
  }

  /// Repetitions per sample of numpy's `op` ("gemm", "gemv", "gemvT",
  /// "cholesky" or "lu")
  /// at size n (after a warm-up call); nil without numpy.
  func calibrate(_ op: String, _ n: Int, threads: Int) -> Int? {
    probes[threads]?.ask("cal \(op) \(n)").flatMap { Int($0) }
  }

  /// Seconds per call over one sample of `reps` calls.
  func sample(_ op: String, _ n: Int, threads: Int, reps: Int) -> Double? {
    probes[threads]?.ask("run \(op) \(n) \(reps)").flatMap { Double($0) }
  }
}

/// One python3 child running `script`: it prints a JSON line describing
/// numpy, then answers each request line on stdin with one line on stdout.
final class NumpyProbe {
  private let process: Process
  private let input: FileHandle
  private let output: FileHandle
  private var buffer = Data()

  private init(process: Process, input: FileHandle, output: FileHandle) {
    self.process = process
    self.input = input
    self.output = output
  }

  func finish() {
    try? input.close()
    process.waitUntilExit()
  }

  /// Requests: "cal OP N" (warm up; reply the repetitions that make a
  /// sample last ≥ 10 ms, as the Swift side does) and "run OP N REPS"
  /// (reply seconds per call over one sample).
  static let script = """
    import json, sys, time
    import numpy as np
    info = "numpy " + np.__version__
    try:
        import threadpoolctl
        info += "; " + ", ".join("%s %s (%s kernel, %s threads)" % (d.get("internal_api"), d.get("version"),
            d.get("architecture"), d.get("num_threads")) for d in threadpoolctl.threadpool_info())
    except Exception:
        pass
    try:
        # The kernel family OpenBLAS chose at load (what OPENBLAS_CORETYPE would pin).
        import ctypes, glob, os
        lib = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*"))[0]
        h = ctypes.CDLL(lib)
        for suffix in ("corename", "config"):
            for name in ("scipy_openblas_get_%s64_", "openblas_get_%s64_", "openblas_get_%s"):
                if hasattr(h, name % suffix):
                    f = getattr(h, name % suffix); f.restype = ctypes.c_char_p
                    info += "; %s: %s" % (suffix, f().decode())
                    break
    except Exception:
        pass
    print(json.dumps({"info": info}), flush=True)
    rng = np.random.default_rng(0)
    current, f = None, None
    def setup(op, n):
        global current, f
        if current == (op, n): return
        a = rng.uniform(-1, 1, (n, n)); b = rng.uniform(-1, 1, (n, n)); c = np.empty((n, n))
        x = rng.uniform(-1, 1, n); y = np.empty(n); at = a.T
        spd = a @ a.T + n * np.eye(n)
        if op == "gemm": f = lambda: np.matmul(a, b, out=c)
        elif op == "cholesky": f = lambda: np.linalg.cholesky(spd)
        elif op == "lu": f = lambda: np.linalg.det(a)  # LAPACK dgetrf, plus an O(n) product
        elif op == "gemv": f = lambda: np.matmul(a, x, out=y)
        else: f = lambda: np.matmul(at, x, out=y)
        current = (op, n)
    while True:
        line = sys.stdin.readline()
        if not line: break
        words = line.split()
        setup(words[1], int(words[2]))
        if words[0] == "cal":
            f()
            reps = 1
            while True:
                t0 = time.perf_counter()
                for _ in range(reps): f()
                if time.perf_counter() - t0 >= 0.01: break
                reps *= 2
            print(reps, flush=True)
        else:
            reps = int(words[3])
            t0 = time.perf_counter()
            for _ in range(reps): f()
            print((time.perf_counter() - t0) / reps, flush=True)
    """

  enum Outcome {
    case success((NumpyProbe, String))
    case failure(String)
  }

  /// Starts a child with `OPENBLAS_NUM_THREADS` (and the OpenMP/MKL
  /// equivalents) = threads. Its environment drops OPENBLAS_CORETYPE and
  /// OPENBLAS_L2_SIZE: settings meant for older OpenBLAS builds select a
  /// slower kernel (only the child's environment changes).
  static func start(threads: Int) -> Outcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    var environment = ProcessInfo.processInfo.environment
    environment["OPENBLAS_CORETYPE"] = nil
    environment["OPENBLAS_L2_SIZE"] = nil
    for name in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"] {
      environment[name] = String(threads)
    }
    // Idle OpenBLAS helper threads spin for 2^28 cycles (~0.1 s) by
    // default; with samples alternating, that spinning would run during
    // our two-thread samples. 2^20 cycles (~0.4 ms) still covers the gaps
    // between numpy's own back-to-back calls within a sample.
    environment["OPENBLAS_THREAD_TIMEOUT"] = "20"
    process.environment = environment
    let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    do {
      try process.run()
    } catch {
      return .failure("cannot start python3: \(error.localizedDescription)")
    }
    let probe = NumpyProbe(
      process: process, input: stdin.fileHandleForWriting, output: stdout.fileHandleForReading)
    guard let first = probe.readLine(),
      let json = try? JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any],
      let info = json["info"] as? String
    else {
      try? stdin.fileHandleForWriting.close()
      process.waitUntilExit()
      let text = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      return .failure(
        text.split(separator: "\n").last.map(String.init)
          ?? "python3 exited with \(process.terminationStatus)")
    }
    return .success((probe, info))
  }

  /// Sends one request line and returns the reply line (nil if the child died).
  func ask(_ line: String) -> String? {
    guard process.isRunning else { return nil }
    guard (try? input.write(contentsOf: Data((line + "\n").utf8))) != nil else { return nil }
    return readLine()
  }

  private func readLine() -> String? {
    while true {
      if let newline = buffer.firstIndex(of: 10) {
        let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
        buffer.removeSubrange(buffer.startIndex...newline)
        return line
      }
      let chunk = output.availableData
      if chunk.isEmpty { return nil }
      buffer.append(chunk)
    }
  }
}
