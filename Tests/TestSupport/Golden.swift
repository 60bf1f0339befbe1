import Foundation

/// Golden transcripts: `NAME.expected` beside its input records commands
/// (`$ bilevelc ...`), their interleaved output and `[exit N]`. Comparing
/// reruns the commands the file lists; `BILEVELC_UPDATE_GOLDEN=1` rewrites
/// the file and reports a failure, so a recording run never passes.
public enum Golden {
  public static var updating: Bool {
    ProcessInfo.processInfo.environment["BILEVELC_UPDATE_GOLDEN"] == "1"
  }

  public struct Outcome: Sendable {
    public let matches: Bool
    public let message: String
  }

  /// The commands an existing transcript lists, or `defaults`.
  public static func commands(in expectedPath: String, defaults: [String]) -> [String] {
    guard let text = try? String(contentsOfFile: expectedPath, encoding: .utf8) else {
      return defaults
    }
    let commands = text.split(separator: "\n", omittingEmptySubsequences: false)
      .filter { $0.hasPrefix("$ bilevelc") }.map { String($0.dropFirst(2)) }
    return commands.isEmpty ? defaults : commands
  }

  /// Runs each command (`bilevelc ARGS [< INPUT]`) in `directory`.
  public static func transcript(_ commands: [String], in directory: String) -> String {
    var out = ""
    for command in commands {
      var words = shellWords(command)
      words.removeFirst()  // "bilevelc"
      var input: [String] = []
      if let redirect = words.firstIndex(of: "<"), redirect + 1 < words.count {
        let path = directory + "/" + words[redirect + 1]
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        input = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if input.last == "" { input.removeLast() }
        words.removeSubrange(redirect...)
      }
      let run = DriverRunner.run(words, in: directory, input: input)
      let transcript = scrubMeasurements(run.transcript)
      out += "$ \(command)\n\(transcript)"
      if !transcript.isEmpty && !transcript.hasSuffix("\n") { out += "\n" }
      out += "[exit \(run.status)]\n\n"
    }
    return out
  }

  /// Words split at spaces, except inside single quotes (`--method 'implicit(cg, iters: 5)'`).
  public static func shellWords(_ command: String) -> [String] {
    var words: [String] = [], word = "", quoted = false, started = false
    for c in command {
      if c == "'" { quoted.toggle(); started = true; continue }
      if c == " " && !quoted {
        if started { words.append(word) }
        word = ""
        started = false
        continue
      }
      word.append(c)
      started = true
    }
    if started { words.append(word) }
    return words
  }

  /// Wall time and peak memory differ run to run: their line keeps its
  /// place in the transcript with the figures masked.
  public static func scrubMeasurements(_ text: String) -> String {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
      line -> Substring in
      line.hasPrefix("  wall time: ") ? "  wall time: (measured), peak memory: (measured)" : line
    }
    return lines.joined(separator: "\n")
  }

  public static func check(expectedPath: String, actual: String) -> Outcome {
    if updating {
      try? actual.write(toFile: expectedPath, atomically: true, encoding: .utf8)
      return Outcome(
        matches: false,
        message: "recorded \(expectedPath); rerun without BILEVELC_UPDATE_GOLDEN=1 to compare")
    }
    guard let expected = try? String(contentsOfFile: expectedPath, encoding: .utf8) else {
      return Outcome(
        matches: false,
        message: "missing \(expectedPath); record it with BILEVELC_UPDATE_GOLDEN=1 swift test")
    }
    if expected == actual { return Outcome(matches: true, message: "") }
    return Outcome(
      matches: false, message: "\(expectedPath) differs:\n" + firstDifference(expected, actual))
  }

  /// The first differing line, with a little context.
  static func firstDifference(_ a: String, _ b: String) -> String {
    let x = a.split(separator: "\n", omittingEmptySubsequences: false)
    let y = b.split(separator: "\n", omittingEmptySubsequences: false)
    for i in 0..<max(x.count, y.count)
    where (i < x.count ? x[i] : nil) != (i < y.count ? y[i] : nil) {
      return
        "line \(i + 1):\n  expected: \(i < x.count ? String(x[i]) : "<end>")\n  actual:   \(i < y.count ? String(y[i]) : "<end>")"
    }
    return "(only line endings differ)"
  }
}
