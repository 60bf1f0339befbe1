import Foundation
import Synchronization

/// Where a program may read data (`csv`, `npy`): regular files under its
/// own folder, and under `--data-root DIR` when the command line gives one.
/// A path that leaves them (`..`, an absolute path, a symbolic link out) or
/// names a FIFO, device or directory is refused with why and how to allow
/// it. The files read are remembered, so no output may overwrite one.
final class DataPaths: Sendable {
  let workingDirectory: String
  /// `--data-root` as given, and resolved against the working directory.
  let root: (given: String, full: String)?
  private let read = Mutex<[String]>([])

  init(workingDirectory: String, root: String?) {
    let wd = Environment.absolute(workingDirectory)
    self.workingDirectory = wd
    self.root = root.map { r in (r, r.hasPrefix("/") ? r : wd + "/" + r) }
  }

  /// The data files accepted so far, resolved.
  var filesRead: [String] { read.withLock { $0 } }

  func full(_ path: String) -> String {
    path.hasPrefix("/") ? path : workingDirectory + "/" + path
  }

  /// Why `path` (as written, relative to `programDirectory`) may not be read; nil when it may.
  func refusal(_ path: String, programDirectory: String) -> String? {
    let folder = full(programDirectory.isEmpty ? "/" : programDirectory)
    let target = path.hasPrefix("/") ? path : folder + "/" + path
    let roots = [folder] + (root.map { [$0.full] } ?? [])
    let lexical = OutputFiles.lexical(target)
    let place =
      programDirectory == "."
      ? "the program's folder" : "the program's folder '\(programDirectory)'"
    func allow(_ file: String) -> String {
      "to allow it, give --data-root with a folder that holds it (as in --data-root \((file as NSString).deletingLastPathComponent))"
    }
    let beyond = root.map { " and the --data-root '\($0.given)'" } ?? ""
    if !roots.contains(where: { OutputFiles.isInside(lexical, OutputFiles.lexical($0)) }) {
      let what = path.hasPrefix("/") ? "it is an absolute path outside" : "its '..' leads outside"
      return "\(what) \(place)\(beyond), where data are read from; \(allow(lexical))"
    }
    var s = stat()
    // A missing file is readFile's to report ("no such file").
    guard stat(target, &s) == 0 else { return nil }
    let kind = OutputFiles.kind(mode: s.st_mode)
    guard kind.isRegular else {
      return "it is \(kind.name), not a regular file; data are read only from regular files"
    }
    let real = OutputFiles.canonical(target)
    if !roots.contains(where: { OutputFiles.isInside(real, OutputFiles.canonical($0)) }) {
      return
        "it leads through a symbolic link to '\(real)', outside \(place)\(beyond); \(allow(real))"
    }
    read.withLock { $0.append(target) }
    return nil
  }
}
