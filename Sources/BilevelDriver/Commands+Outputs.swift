import BilevelCore
import BilevelFrontEnd
import Foundation

/// The files a command writes, checked before any work: first the paths
/// the command line names, then (once the program is elaborated, before it
/// runs) `--save`'s files and the data files the program read.
extension Commands {
  func target(_ option: String, _ path: String, newFolder: Bool = false) -> OutputTarget {
    OutputTarget(
      option: option, path: path, full: environment.absolute(path), folderMayBeMissing: newFolder)
  }

  /// `--json`, `--trace`, `--plot` and `--save`'s files (with the program's
  /// variables; without it, result.json alone).
  func outputTargets(_ program: Program?) -> [OutputTarget] {
    var targets: [OutputTarget] = []
    if let p = options.jsonPath { targets.append(target("--json", p)) }
    if let p = options.tracePath { targets.append(target("--trace", p)) }
    if let p = options.plotPath { targets.append(target("--plot", p)) }
    if let d = options.saveDirectory {
      let missing = OutputFiles.kind(environment.absolute(d)) == nil
      let names = (program?.variables ?? []).map { $0.name + ".npy" } + ["result.json"]
      targets += names.map { target("--save", d + "/" + $0, newFolder: missing) }
    }
    return targets
  }

  /// Why the outputs cannot be written (nil: they can).
  func outputRefusal(_ program: Program?, dataFiles: [String]) -> String? {
    if let d = options.saveDirectory, let k = OutputFiles.kind(environment.absolute(d)),
      k != .directory
    {
      return "--save '\(d)' is \(k.name); it must be a folder (created when missing)"
    }
    var inputs = [("the input program", environment.absolute(options.file!))]
    inputs += dataFiles.map { ("a data file the program reads", $0) }
    return OutputFiles.refusal(outputTargets(program), inputs: inputs)
  }

  /// Writes a result file atomically; a failure is reported, not fatal to the run.
  func write(_ text: String, to path: String, option: String) -> Bool {
    writeBytes(Array(text.utf8), to: path, option: option)
  }

  func writeBytes(_ bytes: [UInt8], to path: String, option: String) -> Bool {
    guard let e = OutputFiles.write(bytes, to: target(option, path)) else { return true }
    environment.standardError("bilevelc: error: \(DiagnosticRenderer.escapingControls("\(e)"))\n")
    return false
  }
}
