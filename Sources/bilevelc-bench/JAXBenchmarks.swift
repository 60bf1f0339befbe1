import BilevelCore
import BilevelDriver
import BilevelFrontEnd
import BilevelSolvers
import Foundation
import Synchronization

/// The interpreter the JAX columns run: $BILEVELC_PYTHON, else python3.
let benchPython = ProcessInfo.processInfo.environment["BILEVELC_PYTHON"] ?? "python3"

/// jax's "version backend devices", or nil where it is not importable.
func jaxVersion() -> String? {
  let probe = spawnPython(
    benchPython,
    ["-c", "import jax; print(jax.__version__, jax.default_backend(), jax.device_count())"])
  return probe.status == 0 ? probe.output.trimmingCharacters(in: .whitespacesAndNewlines) : nil
}

/// One program timed in bilevelc and in its `--emit jax` module, both from
/// the same command line (`arguments`: overrides, then the .blv path).
struct JAXComparison {
  var method = ""
  var innerSize = 0
  /// Seconds of the first hypergradient (with BilevelProblem's build) and
  /// per hypergradient after it; the outer loss at the initial point.
  var ours: (first: Double, steady: Double, loss: Double)?
  var theirs: (first: Double, steady: Double, loss: Double)?
  /// Why a side has no figures.
  var failure: String?

  var lossDifference: String {
    guard let ours, let theirs else { return "-" }
    return String(
      format: "%.1e", abs(theirs.loss - ours.loss) / max(abs(ours.loss), 1e-300))
  }

  /// Times bilevelc, then (unless `python` is nil) the module in its own
  /// process, given bilevelc's data values (JAXDataValues) so that large
  /// generated data are not regenerated in Python.
  init(_ arguments: [String], python: String?, directory: String) {
    let path = arguments.last!
    let env = Environment(
      currentDirectory: FileManager.default.currentDirectoryPath, readLine: { nil },
      standardOutput: { _ in }, standardError: { _ in }, isTerminal: false)
    guard let program = Driver.compile(arguments, environment: env) else {
      failure = "does not compile"
      return
    }
    var problem: BilevelProblem!
    let build = once { problem = BilevelProblem(program) }
    let selected = MethodSelection(problem).method
    method = selected.description
    innerSize = problem.innerSize
    // The module projects φ into the outer box first, as bilevelc's run does.
    var phi = problem.initialOuter()
    OuterOptimizer(program.outerSolver, bounds: problem.outerBounds()).project(&phi)
    do throws(SolverFault) {
      var loss = 0.0
      let first = try once { () throws(SolverFault) in
        loss = try problem.hypergradient(selected, at: phi).outerLoss
      }
      var t: [Double] = []
      while t.count < 3 || (t.count < 21 && t.reduce(0, +) < 0.3) {
        t.append(
          try once { () throws(SolverFault) in
            _ = try problem.hypergradient(selected, at: phi)
          })
      }
      ours = (build + first, median(t), loss)
    } catch {
      failure = "fault: \(error.message)"
      return
    }
    guard let python else { return }
    let emitted = emitJAX(arguments)
    guard emitted.status == 0 else {
      failure =
        "not emitted: " + (emitted.errors.split(separator: "\n").first.map(String.init) ?? "")
      return
    }
    let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    let module = directory + "/\(name).py", values = directory + "/\(name)-data"
    guard (try? emitted.output.write(toFile: module, atomically: true, encoding: .utf8)) != nil,
      JAXDataValues.write(program, to: values)
    else {
      failure = "cannot write the module"
      return
    }
    defer { try? FileManager.default.removeItem(atPath: values) }
    theirs = jaxTiming(python, module: module, values: values)
    if theirs == nil { failure = "module failed" }
  }
}

/// `bilevelc-bench jax --samples`: per sample, bilevelc's time per
/// hypergradient at the initial point beside the `--emit jax` module's
/// jitted one (its `--time N`), in the same run.
func jaxSamplesSection() -> Section {
  var s = Section(
    "one hypergradient per sample at the initial point: bilevelc beside its --emit jax module (jit, float64)",
    header: ["sample", "method", "bilevelc ms", "jax ms", "bilevelc / jax", "outer loss rel. diff"])
  let version = jaxVersion()
  let directory = benchTemporaryDirectory()
  defer { try? FileManager.default.removeItem(atPath: directory) }
  for path in sampleFiles() {
    let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    let c = JAXComparison(
      [path], python: version == nil ? nil : benchPython, directory: directory)
    guard let ours = c.ours else {
      s.add([name, c.method, c.failure ?? "", "", "", ""])
      continue
    }
    guard let theirs = c.theirs else {
      s.add([name, c.method, ms(ours.steady), c.failure ?? "-", "-", "-"])
      continue
    }
    s.add([
      name, c.method, ms(ours.steady), ms(theirs.steady), times(ours.steady / theirs.steady),
      c.lossDifference,
    ])
  }
  s.note(
    "bilevelc: median of ≥ 3 calls after one that builds the plans (as the solvers section); φ projected into its box"
  )
  s.note(
    "bilevelc / jax > 1: the jitted module is faster; both run on this machine, one after the other, per sample"
  )
  s.note("not emitted: --emit jax refuses the newton inner solver (a located error)")
  jaxNotes(&s, version)
  return s
}

func jaxNotes(_ s: inout Section, _ version: String?) {
  if let load = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) {
    s.note(
      "load average (1, 5, 15 min) at the end: \(load.split(separator: " ").prefix(3).joined(separator: ", ")) on \(ProcessInfo.processInfo.activeProcessorCount) cores"
    )
  }
  s.note(
    "jax: the module's --time 1 --min-seconds 0.3 (calls for ≥ 0.3 s, at least one, each jit-dispatched and blocked on, after a compiling"
  )
  s.note(
    "  call and one more; φ copied to the device each call), its data bilevelc's values (--data-values: NAME.npy each, written by the bench)"
  )
  if let version {
    s.note(
      "jax \(version) (version, backend, devices) via \(benchPython); each module runs in its own process after bilevelc's calls"
    )
  } else {
    s.note(
      "jax not importable by \(benchPython) (set BILEVELC_PYTHON to an interpreter with jax); JAX column skipped"
    )
  }
}

func benchTemporaryDirectory() -> String {
  let directory =
    NSTemporaryDirectory() + "bilevelc-bench-jax-\(ProcessInfo.processInfo.processIdentifier)"
  try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
  return directory
}

/// `bilevelc --emit jax ARGUMENTS`, in-process.
func emitJAX(_ arguments: [String]) -> (status: Int32, output: String, errors: String) {
  final class Captured: Sendable {
    let text = Mutex(("", ""))
  }
  let captured = Captured()
  let env = Environment(
    currentDirectory: FileManager.default.currentDirectoryPath, readLine: { nil },
    standardOutput: { s in captured.text.withLock { $0.0 += s } },
    standardError: { s in captured.text.withLock { $0.1 += s } },
    isTerminal: false)
  let status = Driver.runOnLargeStack {
    Driver.run(["--emit", "jax"] + arguments, environment: env)
  }
  let (output, errors) = captured.text.withLock { $0 }
  return (status, output, errors)
}

/// Seconds of the module's first jitted call and per call after it, and
/// the outer loss, from `MODULE --time 1 --min-seconds 0.3`: one timed
/// call, more while they have lasted under 0.3 s.
func jaxTiming(
  _ python: String, module: String, values: String
) -> (first: Double, steady: Double, loss: Double)? {
  let run = spawnPython(
    python,
    [module, "--time", "1", "--min-seconds", "0.3", "--data-values", values, "--devices", "1"])
  guard run.status == 0 else { return nil }
  var first: Double?, seconds: Double?, loss: Double?
  func number(_ line: Substring, after prefix: String) -> Double? {
    Double(line.dropFirst(prefix.count).split(separator: " ").first ?? "")
  }
  for line in run.output.split(separator: "\n") {
    if line.hasPrefix("seconds of the first call: ") {
      first = number(line, after: "seconds of the first call: ")
    } else if line.hasPrefix("seconds per hypergradient: ") {
      seconds = number(line, after: "seconds per hypergradient: ")
    } else if line.hasPrefix("outer loss: ") {
      loss = number(line, after: "outer loss: ")
    }
  }
  guard let first, let seconds, let loss else { return nil }
  return (first, seconds, loss)
}

/// Runs an executable (a path, or a name looked up on PATH) to completion.
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
