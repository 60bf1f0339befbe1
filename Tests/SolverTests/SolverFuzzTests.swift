import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation
import TestSupport
import Testing

/// Seeded fuzzing of the solver stage: every sample with its numbers
/// changed at random (learning rates, steps, sizes, settings, initial
/// values), compiled, and each program the front end accepts solved for one
/// hypergradient by its own method. Numerical trouble must come back as a
/// SolverFault (a message, never a crash); everything else as numbers.
@Suite struct SolverFuzzTests {
  static let replacements = ["0", "1", "2", "3", "0.5", "1e-3", "1e3", "-1", "10", "0.01", "7"]

  static let samples = PackagePaths.files(under: PackagePaths.samples, withExtension: "blv").filter
  { !$0.contains("/errors/") }

  /// The text with one to three numeric literals (outside comments) replaced.
  static func mutate(_ text: String, _ r: inout SplitMix) -> String {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    for _ in 0..<(1 + r.below(3)) {
      let candidates = lines.indices.filter { i in
        let code =
          lines[i].split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return code.contains(where: \.isNumber) && !code.contains("seed") && !code.contains("\"")
      }
      guard !candidates.isEmpty else { break }
      let i = candidates[r.below(candidates.count)]
      let code = String(
        lines[i].split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0])
      let numbers = code.ranges(of: /[0-9]+(\.[0-9]+)?(e-?[0-9]+)?/)
      guard !numbers.isEmpty else { continue }
      let range = numbers[r.below(numbers.count)]
      lines[i] = code.replacingCharacters(
        in: range, with: replacements[r.below(replacements.count)])
    }
    return lines.joined(separator: "\n")
  }

  static func compile(_ text: String, path: String) -> Program? {
    let directory = (path as NSString).deletingLastPathComponent
    let (source, syntax) = Parser.parse(SourceFile(path: path, text: text))
    guard syntax.isEmpty else { return nil }
    var options = CompileOptions()
    options.readFile = { p in
      FileManager.default.contents(atPath: p.hasPrefix("/") ? p : directory + "/" + p).map {
        [UInt8]($0)
      }
    }
    let (program, diagnostics) = MethodDiagnostics.elaborate(source, options: options)
    guard let program, !diagnostics.contains(where: { $0.severity == .error }) else { return nil }
    return program.simplified().program
  }

  @Test func mutatedSamplesSolveOrFailCleanly() throws {
    var r = SplitMix(state: 0xF022_5017)
    var solved = 0, faults = 0, rejected = 0, skipped = 0
    for k in 0..<240 {
      let path = Self.samples[k % Self.samples.count]
      let text = Self.mutate(try String(contentsOfFile: path, encoding: .utf8), &r)
      guard let program = Self.compile(text, path: path) else {
        rejected += 1
        continue
      }
      let problem = BilevelProblem(program)
      // Keep the run short: the point is robustness, not long solves.
      let steps = InnerSolver(problem).fixedSteps ?? 0
      guard steps <= 1000, problem.innerSize * problem.tasks <= 10_000, problem.outerSize <= 2_000
      else {
        skipped += 1
        continue
      }
      let method = MethodSelection(problem).method
      if case .unrollForward = method, steps * problem.outerSize > 20_000 {
        skipped += 1
        continue
      }
      do throws(SolverFault) {
        let result = try problem.hypergradient(method, at: problem.initialOuter())
        #expect(result.gradient.count == problem.outerSize)
        solved += 1
      } catch {
        #expect(!error.message.isEmpty)
        faults += 1
      }
    }
    print(
      "solver fuzz: solved \(solved), faults \(faults), rejected \(rejected), skipped \(skipped)")
    // The mix must exercise both outcomes, or the mutations are too tame or too wild.
    #expect(
      solved >= 60 && faults >= 5,
      "solved \(solved), faults \(faults), rejected \(rejected), skipped \(skipped)")
  }
}
