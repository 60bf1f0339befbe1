import BilevelCore
import BilevelDriver
import BilevelFrontEnd
import BilevelSolvers
import Foundation
import Synchronization

/// `bilevelc-bench jax`: per sample, bilevelc's time per hypergradient at the
/// initial point beside the `--emit jax` module's jitted one (its `--time N`),
/// in the same run. The interpreter is $BILEVELC_PYTHON, else python3; without
/// an importable jax the JAX column is empty and a note says why.
func jaxSection(only names: [String] = []) -> Section {
  var s = Section(
    "one hypergradient per sample at the initial point: bilevelc beside its --emit jax module (jit, float64)",
    header: ["sample", "method", "bilevelc ms", "jax ms", "bilevelc / jax", "outer loss rel. diff"])
  let python = ProcessInfo.processInfo.environment["BILEVELC_PYTHON"] ?? "python3"
  let probe = spawnPython(
    python, ["-c", "import jax; print(jax.__version__, jax.default_backend(), jax.device_count())"])
  let jaxVersion: String? =
    probe.status == 0 ? probe.output.trimmingCharacters(in: .whitespacesAndNewlines) : nil
  let directory =
    NSTemporaryDirectory() + "bilevelc-bench-jax-\(ProcessInfo.processInfo.processIdentifier)"
  try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(atPath: directory) }
  for path in sampleFiles() {
    let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    if !names.isEmpty && !names.contains(name) { continue }
    guard let bytes = FileManager.default.contents(atPath: path),
      let program = compileBilevel(path: path, bytes: [UInt8](bytes))
    else {
      s.add([name, "does not compile", "", "", "", ""])
      continue
    }
    let problem = BilevelProblem(program)
    let method = MethodSelection(problem).method
    let emitted = emitJAX(path)
    guard emitted.status == 0 else {
      s.add([name, method.description, "", "not emitted", "", ""])
      continue
    }
    // The module projects φ into the outer box first, as bilevelc's run does.
    var phi = problem.initialOuter()
    OuterOptimizer(program.outerSolver, bounds: problem.outerBounds()).project(&phi)
    let ours: (seconds: Double, loss: Double)
    do throws(SolverFault) {
      _ = try problem.hypergradient(method, at: phi)  // builds the plans
      var t: [Double] = [], loss = 0.0
      while t.count < 3 || (t.count < 21 && t.reduce(0, +) < 0.3) {
        t.append(
          try once { () throws(SolverFault) in
            loss = try problem.hypergradient(method, at: phi).outerLoss
          })
      }
      ours = (median(t), loss)
    } catch {
      s.add([name, method.description, "fault: \(error.message)", "", "", ""])
      continue
    }
    guard jaxVersion != nil else {
      s.add([name, method.description, ms(ours.seconds), "-", "-", "-"])
      continue
    }
    let module = directory + "/\(name).py"
    let theirs = (try? emitted.output.write(toFile: module, atomically: true, encoding: .utf8))
      .flatMap { _ in
        jaxTiming(python, module: module, dataDirectory: "samples")
      }
    guard let theirs else {
      s.add([name, method.description, ms(ours.seconds), "module failed", "-", "-"])
      continue
    }
    let difference = abs(theirs.loss - ours.loss) / max(abs(ours.loss), 1e-300)
    s.add([
      name, method.description, ms(ours.seconds), ms(theirs.seconds),
      times(ours.seconds / theirs.seconds),
      String(format: "%.1e", difference),
    ])
  }
  s.note(
    "bilevelc: median of ≥ 3 calls after one that builds the plans (as the solvers section); φ projected into its box"
  )
  s.note(
    "bilevelc / jax > 1: the jitted module is faster; both run on this machine, one after the other, per sample"
  )
  if let load = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) {
    s.note(
      "load average (1, 5, 15 min) at the end: \(load.split(separator: " ").prefix(3).joined(separator: ", ")) on \(ProcessInfo.processInfo.activeProcessorCount) cores"
    )
  }
  s.note("not emitted: --emit jax refuses the newton inner solver (a located error)")
  s.note(
    "jax: the module's --time N (N calls, each jit-dispatched and blocked on, after a compiling call; φ copied to the device each call)"
  )
  if let jaxVersion {
    s.note(
      "jax \(jaxVersion) (version, backend, devices) via \(python); each sample's module runs in its own process after bilevelc's calls"
    )
  } else {
    s.note(
      "jax not importable by \(python) (set BILEVELC_PYTHON to an interpreter with jax); JAX column skipped"
    )
  }
  return s
}

/// `bilevelc --emit jax PATH`, in-process.
func emitJAX(_ path: String) -> (status: Int32, output: String) {
  final class Captured: Sendable {
    let text = Mutex("")
  }
  let captured = Captured()
  let env = Environment(
    currentDirectory: FileManager.default.currentDirectoryPath, readLine: { nil },
    standardOutput: { s in captured.text.withLock { $0 += s } }, standardError: { _ in },
    isTerminal: false)
  let status = Driver.runOnLargeStack { Driver.run(["--emit", "jax", path], environment: env) }
  return (status, captured.text.withLock { $0 })
}

/// Seconds per jitted hypergradient and the outer loss, from `MODULE --time N`;
/// N is chosen so the timed calls last about 0.3 s (from one timed call first).
func jaxTiming(
  _ python: String, module: String, dataDirectory: String
) -> (seconds: Double, loss: Double)? {
  func timed(_ calls: Int) -> (seconds: Double, loss: Double)? {
    let run = spawnPython(
      python, [module, "--time", "\(calls)", "--data-dir", dataDirectory, "--devices", "1"])
    guard run.status == 0 else { return nil }
    var seconds: Double?, loss: Double?
    for line in run.output.split(separator: "\n") {
      if line.hasPrefix("seconds per hypergradient: ") {
        seconds = Double(
          line.dropFirst("seconds per hypergradient: ".count).split(separator: " ").first ?? "")
      } else if line.hasPrefix("outer loss: ") {
        loss = Double(line.dropFirst("outer loss: ".count))
      }
    }
    guard let seconds, let loss else { return nil }
    return (seconds, loss)
  }
  guard let first = timed(3) else { return nil }
  let calls = min(max(3, Int(0.3 / max(first.seconds, 1e-6))), 2000)
  guard let result = calls <= 3 ? first : timed(calls) else { return nil }
  return result
}

/// Runs python (a path, or a name looked up on PATH) to completion.
func spawnPython(_ python: String, _ args: [String]) -> (status: Int32, output: String) {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: python.hasPrefix("/") ? python : "/usr/bin/env")
  p.arguments = python.hasPrefix("/") ? args : [python] + args
  let pipe = Pipe()
  p.standardOutput = pipe
  p.standardError = FileHandle.nullDevice
  do { try p.run() } catch { return (-1, "") }
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
