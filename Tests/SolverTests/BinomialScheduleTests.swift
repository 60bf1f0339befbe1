import Testing

@testable import BilevelSolvers

/// The binomial schedule made one action at a time: its state stays
/// O(snapshots) whatever the number of steps, and it is the optimum.
@Suite struct BinomialScheduleTests {
  @Test func theFirstActionsOfAHugeScheduleCostNothingPerStep() {
    // One entry per step would be 2⁴⁰ actions; the iterator makes a few.
    var it = BinomialSchedule(steps: 1 << 40, snapshots: 20).makeIterator()
    var first: [CheckpointAction] = []
    while first.count < 6, let a = it.next() { first.append(a) }
    #expect(first.first == .store(slot: 0, step: 0))
    if case .advance(let from, let to)? = first.dropFirst().first {
      #expect(from == 0 && to > 0)
    } else {
      Issue.record("\(first)")
    }
    #expect(it.storedSteps.count <= 20)
  }

  @Test(arguments: [(200_000, 3), (150_001, 7), (99_999, 1_000)])
  func aLongScheduleKeepsAtMostItsSnapshotsAndIsOptimal(_ steps: Int, _ snapshots: Int) {
    var it = BinomialSchedule(steps: steps, snapshots: snapshots).makeIterator()
    var advanced = 0
    var expectedReverse = steps - 1
    var peak = 0
    while let a = it.next() {
      peak = max(peak, it.storedSteps.count)
      switch a {
      case .advance(let from, let to): advanced += to - from
      case .reverse(let k):
        #expect(k == expectedReverse)
        expectedReverse -= 1
      default: break
      }
    }
    #expect(expectedReverse == -1)
    #expect(peak <= snapshots)
    #expect(advanced == CheckpointSchedule.optimalRecomputation(steps: steps, snapshots: snapshots))
  }

  @Test func theRecomputationBoundSaturatesInsteadOfTrapping() {
    #expect(
      CheckpointSchedule.optimalRecomputation(steps: 2_000_000_000_000_000, snapshots: 1) == Int.max
    )
    #expect(
      CheckpointSchedule.optimalRecomputation(steps: 2_000_000_000_000_000, snapshots: 44_721_360)
        == Int.max)
    #expect(CheckpointSchedule.optimalRecomputation(steps: 5, snapshots: 1) == 10)
  }
}
