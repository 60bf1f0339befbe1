import BilevelDriver
import Foundation
import Synchronization

/// Runs the driver in-process with captured streams, on a large stack as
/// the executable does.
public enum DriverRunner {
  public struct Run: Sendable {
    /// Standard output and standard error, interleaved in the order written.
    public let transcript: String
    public let output: String
    public let errors: String
    public let status: Int32
  }

  public static func run(
    _ arguments: [String], in directory: String, input: [String] = [], isTerminal: Bool = false
  ) -> Run {
    struct Capture {
      var transcript = "", output = "", errors = ""
      var lines: [String]
    }
    final class Shared: Sendable {
      let capture: Mutex<Capture>
      init(_ lines: [String]) { capture = Mutex(Capture(lines: lines)) }
    }
    let shared = Shared(input)
    let status = Driver.runOnLargeStack {
      let env = Environment(
        currentDirectory: directory,
        readLine: { shared.capture.withLock { $0.lines.isEmpty ? nil : $0.lines.removeFirst() } },
        standardOutput: { s in
          shared.capture.withLock {
            $0.transcript += s
            $0.output += s
          }
        },
        standardError: { s in
          shared.capture.withLock {
            $0.transcript += s
            $0.errors += s
          }
        },
        isTerminal: isTerminal)
      return Driver.run(arguments, environment: env)
    }
    let c = shared.capture.withLock { $0 }
    return Run(transcript: c.transcript, output: c.output, errors: c.errors, status: status)
  }
}

/// Paths of the package, found from this source file.
public enum PackagePaths {
  public static let root: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
  }()
  public static var samples: String { root + "/samples" }
  public static var grammar: String { root + "/grammar" }

  /// Files under `directory` (recursively) with the extension, sorted.
  public static func files(under directory: String, withExtension ext: String) -> [String] {
    guard let e = FileManager.default.enumerator(atPath: directory) else { return [] }
    var out: [String] = []
    while let p = e.nextObject() as? String {
      if p.hasSuffix("." + ext) { out.append(directory + "/" + p) }
    }
    return out.sorted()
  }
}
