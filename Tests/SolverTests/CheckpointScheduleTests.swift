import Testing

@testable import BilevelSolvers

/// Executes a schedule on the toy chain s_t = t and records every rule it breaks.
private struct ScheduleSimulation {
  var violations: [String] = []
  var slotsTouched: Set<Int> = []
  var peakLiveSnapshots = 0
  var advanceSteps = 0
  var reversedSteps: [Int] = []
  /// Reverses whose residuals must be retaken, as UnrolledReverse executes the
  /// schedule: the first reverse has the forward sweep's last step, and one
  /// straight after a restore has those its snapshot recorded when an advance left it.
  var retakenSteps = 0

  init(_ schedule: [CheckpointAction], steps: Int, snapshots: Int) {
    var working: Int? = 0  // the caller hands over s_0
    var slots: [Int: Int] = [:]
    var freshSlot: Int?
    var recorded: [Int: Int] = [:]  // slot → the step whose residuals it holds
    var held: Int?  // the step whose residuals the working state has
    for (index, action) in schedule.enumerated() {
      func fail(_ message: String) { violations.append("#\(index) \(action): \(message)") }
      switch action {
      case .store(let slot, let step):
        if !(0..<snapshots).contains(slot) { fail("slot out of range") }
        if working != step { fail("working state holds \(String(describing: working))") }
        slots[slot] = working
        freshSlot = slot
        recorded[slot] = nil
        slotsTouched.insert(slot)
        peakLiveSnapshots = max(peakLiveSnapshots, slots.count)
      case .restore(let slot, let step):
        if slots[slot] != step { fail("slot holds \(String(describing: slots[slot]))") }
        working = slots[slot]
        held = recorded[slot] == step ? step : nil
      case .advance(let from, let to):
        if let slot = freshSlot { recorded[slot] = from }
        freshSlot = nil
        held = nil
        if working != from { fail("working state holds \(String(describing: working))") }
        if !(from < to && to < steps) { fail("bad advance range") }
        advanceSteps += to - from
        working = to
      case .reverse(let step):
        if working != step { fail("working state holds \(String(describing: working))") }
        if step != steps - 1 - reversedSteps.count { fail("out of order") }
        if !reversedSteps.isEmpty && held != step { retakenSteps += 1 }
        held = nil
        reversedSteps.append(step)
        working = nil  // an executor may pull back in place
        // A snapshot of a step at or after one already reversed can never be read again.
        slots = slots.filter { $0.value < step }
      }
    }
    if reversedSteps != Array((0..<steps).reversed()) {
      violations.append("not every step reversed once")
    }
    if steps > 0 && schedule.first != .store(slot: 0, step: 0) {
      violations.append("s_0 not stored first")
    }
  }
}

/// The exhaustive recursion F(l, s) (s slots, one of them holding the start).
/// F(0, s) = F(1, s) = 0 for any s ≥ 0 (the working state already holds s_{l−1});
/// F(l, 0) = ∞ for l ≥ 2; F(l, s) = min_{1 ≤ j < l} j + F(l − j, s − 1) + F(j, s).
private func exhaustiveOptimum(maxSteps: Int, maxSnapshots: Int) -> [[Int]] {
  let infinity = Int.max / 4
  var table = Array(
    repeating: Array(repeating: infinity, count: maxSnapshots + 1), count: maxSteps + 1)
  for s in 0...maxSnapshots {
    table[0][s] = 0
    if maxSteps >= 1 { table[1][s] = 0 }
  }
  if maxSteps >= 2 {
    for l in 2...maxSteps {
      for s in 1...maxSnapshots {
        var best = infinity
        for j in 1..<l { best = min(best, j + table[l - j][s - 1] + table[j][s]) }
        table[l][s] = best
      }
    }
  }
  return table
}

@Suite struct CheckpointScheduleTests {
  @Test func schedulesAreValidOnSmallChains() {
    var cases = 0
    for steps in 1...60 {
      for snapshots in 1...8 {
        let schedule = CheckpointSchedule.binomial(steps: steps, snapshots: snapshots)
        let run = ScheduleSimulation(schedule, steps: steps, snapshots: snapshots)
        #expect(Array(run.violations.prefix(3)) == [], "T=\(steps) s=\(snapshots)")
        #expect(run.advanceSteps == CheckpointSchedule.recomputation(schedule))
        #expect(
          run.retakenSteps == CheckpointSchedule.retakenSteps(steps: steps, snapshots: snapshots),
          "T=\(steps) s=\(snapshots)")
        cases += 1
      }
    }
    #expect(cases == 480)
  }

  @Test(arguments: [(1000, 10), (10_000, 3), (5000, 1), (300, 1000)])
  func schedulesAreValidOnLongChains(steps: Int, snapshots: Int) {
    let schedule = CheckpointSchedule.binomial(steps: steps, snapshots: snapshots)
    let run = ScheduleSimulation(schedule, steps: steps, snapshots: snapshots)
    #expect(Array(run.violations.prefix(3)) == [])
    #expect(
      run.advanceSteps
        == CheckpointSchedule.optimalRecomputation(steps: steps, snapshots: snapshots))
    #expect(
      run.retakenSteps == CheckpointSchedule.retakenSteps(steps: steps, snapshots: snapshots))
    // Most steps are reversed straight from a snapshot, which keeps their residuals.
    if snapshots >= 10 { #expect(run.retakenSteps * 3 < steps, "\(run.retakenSteps)") }
  }

  /// The retaken-step count comes from the memoised splits, not the schedule;
  /// past 10⁷ recomputed steps (or 1000 snapshots) the estimate only bounds it.
  @Test func retakenStepsAreCountedWithoutTheSchedule() {
    let retaken = CheckpointSchedule.retakenSteps(steps: 1_000_000, snapshots: 20)
    #expect(retaken.map { $0 > 0 && $0 < 1_000_000 / 2 } == true, "\(String(describing: retaken))")
    #expect(CheckpointSchedule.retakenSteps(steps: 100_000_000, snapshots: 20) == nil)
    #expect(
      CheckpointSchedule.retakenSteps(
        steps: 2_000_000_000_000_000, snapshots: 1_000_000_000_000_000) == nil)
    #expect(CheckpointSchedule.retakenSteps(steps: 1000, snapshots: 20) == 97)
    #expect(CheckpointSchedule.retakenSteps(steps: 1000, snapshots: 999) == 0)
  }

  @Test func emptyLoopNeedsNoActions() {
    #expect(CheckpointSchedule.binomial(steps: 0, snapshots: 1).isEmpty)
    #expect(CheckpointSchedule.optimalRecomputation(steps: 0, snapshots: 1) == 0)
    #expect(
      CheckpointSchedule.binomial(steps: 1, snapshots: 1) == [
        .store(slot: 0, step: 0), .reverse(step: 0),
      ])
  }

  @Test func recomputationMatchesClosedFormAndExhaustiveSearch() {
    let maxSteps = 200, maxSnapshots = 6
    let table = exhaustiveOptimum(maxSteps: maxSteps, maxSnapshots: maxSnapshots)
    var cases = 0
    for steps in 1...maxSteps {
      for snapshots in 1...maxSnapshots {
        let schedule = CheckpointSchedule.binomial(steps: steps, snapshots: snapshots)
        let closedForm = CheckpointSchedule.optimalRecomputation(steps: steps, snapshots: snapshots)
        #expect(closedForm == table[steps][snapshots], "T=\(steps) s=\(snapshots)")
        #expect(
          CheckpointSchedule.recomputation(schedule) == closedForm, "T=\(steps) s=\(snapshots)")
        cases += 1
      }
    }
    #expect(cases == 1200)
  }

  @Test func closedFormKnownValues() {
    for steps in 1...50 {
      // One slot: every step recomputed from s_0.
      #expect(
        CheckpointSchedule.optimalRecomputation(steps: steps, snapshots: 1) == steps * (steps - 1)
          / 2)
      // Enough slots: a single pass to s_{T−1}.
      for snapshots in max(1, steps - 1)...(steps + 2) {
        #expect(
          CheckpointSchedule.optimalRecomputation(steps: steps, snapshots: snapshots) == steps - 1)
        let schedule = CheckpointSchedule.binomial(steps: steps, snapshots: snapshots)
        #expect(CheckpointSchedule.recomputation(schedule) == steps - 1)
      }
    }
  }

  @Test func peakSnapshotsStayWithinBudget() {
    for steps in 1...120 {
      for snapshots in 1...10 {
        let schedule = CheckpointSchedule.binomial(steps: steps, snapshots: snapshots)
        let run = ScheduleSimulation(schedule, steps: steps, snapshots: snapshots)
        #expect(run.slotsTouched.count <= snapshots)
        #expect(run.peakLiveSnapshots <= snapshots)
        #expect(run.slotsTouched.allSatisfy { (0..<snapshots).contains($0) })
      }
    }
  }

  @Test func longScheduleIsNearOptimalAndFast() {
    let schedule = CheckpointSchedule.binomial(steps: 1000, snapshots: 10)
    let optimum = CheckpointSchedule.optimalRecomputation(steps: 1000, snapshots: 10)
    #expect(Double(CheckpointSchedule.recomputation(schedule)) <= 1.1 * Double(optimum))
    let clock = ContinuousClock()
    let elapsed = clock.measure { _ = CheckpointSchedule.binomial(steps: 100_000, snapshots: 10) }
    #expect(elapsed < .seconds(1))
  }

  /// s_{t+1} = a_t s_t + b_t with loss s_T: u_t = a_t u_{t+1}, ∂/∂a_t = u_{t+1} s_t.
  /// The a-gradient reads s_t, so it checks the schedule hands over the right states.
  @Test func checkpointedReversalMatchesStoredReversalBitForBit() {
    let steps = 1000, snapshots = 10
    let a = (0..<steps).map(contractionFactor)
    let b = (0..<steps).map(offset)
    let initial = 0.75

    var states = [initial]
    for t in 0..<steps { states.append(a[t] * states[t] + b[t]) }
    var plainGradient = [Double](repeating: 0, count: steps)
    var plainCotangent = 1.0
    for t in (0..<steps).reversed() {
      plainGradient[t] = plainCotangent * states[t]
      plainCotangent = a[t] * plainCotangent
    }

    var working = initial
    var slots = [Double](repeating: .nan, count: snapshots)
    var gradient = [Double](repeating: .nan, count: steps)
    var cotangent = 1.0
    for action in CheckpointSchedule.binomial(steps: steps, snapshots: snapshots) {
      switch action {
      case .store(let slot, _): slots[slot] = working
      case .restore(let slot, _): working = slots[slot]
      case .advance(let from, let to): for t in from..<to { working = a[t] * working + b[t] }
      case .reverse(let t):
        gradient[t] = cotangent * working
        cotangent = a[t] * cotangent
      }
    }
    #expect(cotangent.bitPattern == plainCotangent.bitPattern)
    #expect(gradient.map(\.bitPattern) == plainGradient.map(\.bitPattern))
  }
}

/// Deterministic coefficients in [0.95, 1.05) and [−0.5, 0.5) without Foundation.
private func contractionFactor(_ t: Int) -> Double {
  let wave = Double((t * 37 + 11) % 64)
  return 0.95 + wave / 640
}

private func offset(_ t: Int) -> Double {
  let wave = Double((t * 7919) % 101)
  return wave / 101 - 0.5
}
