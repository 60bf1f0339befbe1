// libFuzzer entry point over the whole driver, in process: each input is a
// .blv program, explained (parse, elaboration, estimates) and, when its
// counts are small, run under a memory budget writing --json and --trace.
// Anything but success or a located error (`file:line:col: error:`) aborts,
// so libFuzzer keeps the input as a crash. Built by .ci/fuzz-libfuzzer.sh.
import BilevelDriver
import Foundation
import Synchronization

final class Captured: Sendable {
  let errors = Mutex("")
}

/// A fresh folder per process, with the samples' data folders linked in.
let folder: String = {
  let d = NSTemporaryDirectory() + "bilevelc-libfuzzer-\(getpid())"
  try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
  let samples = ProcessInfo.processInfo.environment["BILEVELC_SAMPLES"] ?? "samples"
  for sub in ["data", "sin"] {
    try? FileManager.default.createSymbolicLink(
      atPath: d + "/" + sub, withDestinationPath: samples + "/" + sub)
  }
  return d
}()

func drive(_ arguments: [String]) -> (Int32, String) {
  let c = Captured()
  let status = Driver.runOnLargeStack {
    let env = Environment(
      currentDirectory: folder, readLine: { nil }, standardOutput: { _ in },
      standardError: { s in c.errors.withLock { $0 += s } }, isTerminal: false)
    return Driver.run(arguments, environment: env)
  }
  return (status, c.errors.withLock { $0 })
}

func expectClean(_ r: (Int32, String), _ what: String) {
  let located = r.1.contains(/[^\s:]+:[0-9]+:[0-9]+: error:/)
  if r.0 == 0 || (r.0 == 1 && located) { return }
  FileHandle.standardError.write(Data("\(what): exit \(r.0), unlocated or unclean:\n\(r.1)\n".utf8))
  abort()
}

/// Whether every count in the program is small, so a run stays short.
func isShortRun(_ text: String) -> Bool {
  for m in text.matches(of: /(steps|iters|max_steps|tasks|dim)[^0-9\n]{0,12}([0-9.e+]+)/) {
    guard let n = Double(m.output.2), n <= 200 else { return false }
  }
  return !text.contains("load")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
  let bytes = Data(bytes: data, count: size)
  guard FileManager.default.createFile(atPath: folder + "/input.blv", contents: bytes) else {
    return 0
  }
  let explained = drive(["explain", "input.blv"])
  expectClean(explained, "explain")
  let text = String(decoding: bytes, as: UTF8.self)
  if explained.0 == 0 && isShortRun(text) {
    expectClean(
      drive(["input.blv", "--budget-mb", "64", "--json", "out.json", "--trace", "trace.csv"]),
      "run")
  }
  return 0
}
