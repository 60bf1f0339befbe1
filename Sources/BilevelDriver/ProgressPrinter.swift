import BilevelCore
import BilevelSolvers
import Foundation

/// Progress of the outer steps on standard error: on a terminal (or with
/// `--progress`), never with `--quiet`. About ten lines a run, each with
/// the step, loss, hypergradient norm, rate and the time left.
struct ProgressPrinter {
  let enabled: Bool
  let write: (String) -> Void
  let clock = ContinuousClock()
  var start: ContinuousClock.Instant?
  var firstStep = 0

  init(mode: CommandLineOptions.ProgressMode, isTerminal: Bool, write: @escaping (String) -> Void) {
    enabled = mode == .forced || (mode == .automatic && isTerminal)
    self.write = write
  }

  mutating func show(_ p: BilevelRun.Progress) {
    guard enabled else { return }
    let now = clock.now
    if start == nil {
      start = now
      firstStep = p.step
    }
    guard p.step % max(1, p.steps / 10) == 0 || p.step == p.steps else { return }
    let d = now - start!
    let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    var line =
      "outer step \(p.step)/\(p.steps): outer loss \(formatValue(p.outerLoss)), ‖hypergradient‖ \(formatValue(p.gradientNorm))"
    let done = p.step - firstStep
    if done > 0, seconds > 0 {
      let rate = Double(done) / seconds
      let left = Double(p.steps - p.step) / rate
      line += ", \(ProgressPrinter.short(rate)) steps/s, \(ProgressPrinter.short(left)) s left"
    }
    write(line + "\n")
  }

  /// Three significant figures.
  static func short(_ x: Double) -> String {
    guard x.isFinite, x > 0 else { return "0" }
    return String(format: "%.3g", x)
  }
}
