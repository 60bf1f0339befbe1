import Foundation

/// numpy's figures for the same operations, measured by a python3 child
/// process in the same run (once with one BLAS thread, once with two).
struct NumpyReport {
  /// "gemm" / "gemv" / "gemvT" → threads → n → GFLOP/s.
  var figures: [String: [Int: [Int: Double]]] = [:]
  var description = "not measured"

  func value(_ op: String, _ n: Int, threads: Int) -> Double? { figures[op]?[threads]?[n] }

  func figure(_ op: String, _ n: Int, threads: Int) -> String {
    value(op, n, threads: threads).map { format($0) } ?? "-"
  }

  /// Same protocol as the Swift side: warm-up, calibrate to ~20 ms per
  /// sample, median of 7. Prints one JSON object.
  static let script = """
    import json, sys, time
    import numpy as np
    sizes = [int(s) for s in sys.argv[1].split(",")]
    info = "numpy " + np.__version__
    try:
        import threadpoolctl
        libs = threadpoolctl.threadpool_info()
        info += "; " + ", ".join("%s %s (%s kernel, %s threads)" % (d.get("internal_api"), d.get("version"),
            d.get("architecture"), d.get("num_threads")) for d in libs)
    except Exception:
        try:
            import ctypes, glob, os
            lib = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*"))[0]
            h = ctypes.CDLL(lib)
            for name in ("scipy_openblas_get_config64_", "openblas_get_config64_", "openblas_get_config"):
                if hasattr(h, name):
                    f = getattr(h, name); f.restype = ctypes.c_char_p
                    info += "; " + f().decode() + " (threadpoolctl absent; read from the bundled library)"
                    break
        except Exception:
            pass
    def med(f, flops):
        f()
        reps = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(reps): f()
            if time.perf_counter() - t0 >= 0.01: break
            reps *= 2
        ts = []
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(reps): f()
            ts.append((time.perf_counter() - t0) / reps)
        ts.sort()
        return flops / ts[3] / 1e9
    rng = np.random.default_rng(0)
    out = {"info": info, "gemm": {}, "gemv": {}, "gemvT": {}}
    for n in sizes:
        a = rng.uniform(-1, 1, (n, n)); b = rng.uniform(-1, 1, (n, n)); c = np.empty((n, n))
        x = rng.uniform(-1, 1, n); y = np.empty(n); at = a.T
        out["gemm"][n] = med(lambda: np.matmul(a, b, out=c), 2.0 * n ** 3)
        out["gemv"][n] = med(lambda: np.matmul(a, x, out=y), 2.0 * n * n)
        out["gemvT"][n] = med(lambda: np.matmul(at, x, out=y), 2.0 * n * n)
    print(json.dumps(out))
    """

  /// Runs the script with `OPENBLAS_NUM_THREADS` = 1 and then 2. The
  /// child's environment drops OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE:
  /// settings meant for older OpenBLAS builds force a slower kernel.
  static func measure(sizes: [Int]) -> NumpyReport {
    var report = NumpyReport()
    for threads in [1, 2] {
      switch run(sizes: sizes, threads: threads) {
      case .failure(let message):
        report.description = "not available (\(message)); ratios skipped"
        return report
      case .success(let json):
        if threads == 1, let info = json["info"] as? String { report.description = info }
        for op in ["gemm", "gemv", "gemvT"] {
          guard let table = json[op] as? [String: Any] else { continue }
          for (key, value) in table {
            if let n = Int(key), let v = (value as? NSNumber)?.doubleValue {
              report.figures[op, default: [:]][threads, default: [:]][n] = v
            }
          }
        }
      }
    }
    return report
  }

  enum Outcome {
    case success([String: Any])
    case failure(String)
  }

  static func run(sizes: [Int], threads: Int) -> Outcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, sizes.map(String.init).joined(separator: ",")]
    var environment = ProcessInfo.processInfo.environment
    environment["OPENBLAS_CORETYPE"] = nil
    environment["OPENBLAS_L2_SIZE"] = nil
    for name in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"] {
      environment[name] = String(threads)
    }
    process.environment = environment
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    do {
      try process.run()
    } catch {
      return .failure("cannot start python3: \(error.localizedDescription)")
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
      let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else {
      let text = String(decoding: errorData, as: UTF8.self)
      let last = text.split(separator: "\n").last.map(String.init) ?? "python3 exited with \(process.terminationStatus)"
      return .failure(last)
    }
    return .success(json)
  }
}
