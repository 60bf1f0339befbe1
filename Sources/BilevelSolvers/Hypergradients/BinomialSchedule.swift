/// `CheckpointSchedule.binomial`'s actions, made as they are asked for: the
/// schedule of T steps holds O(snapshots) state, never one entry per step,
/// so a run of 10⁸ inner steps costs what its estimate says.
public struct BinomialSchedule: Sequence, Sendable {
  public let steps: Int
  public let snapshots: Int

  public init(steps: Int, snapshots: Int) {
    precondition(steps >= 0, "steps must be non-negative")
    precondition(snapshots >= 1, "need at least one snapshot slot")
    self.steps = steps
    self.snapshots = snapshots
  }

  public func makeIterator() -> Iterator { Iterator(steps: steps, snapshots: snapshots) }

  public struct Iterator: IteratorProtocol, Sendable {
    let snapshots: Int
    /// Stack of live snapshots; slot index = position.
    public private(set) var storedSteps: [Int] = []
    /// The step the working state holds.
    var current = 0
    /// Steps end − 1, …, 0 are still to be reversed.
    var end: Int
    var started = false
    var done = false
    /// Actions decided together (an advance and its store, a reverse and its restore).
    var pending: [CheckpointAction] = []

    init(steps: Int, snapshots: Int) {
      self.snapshots = snapshots
      end = steps
      storedSteps.reserveCapacity(snapshots)
    }

    public mutating func next() -> CheckpointAction? {
      if !pending.isEmpty { return pending.removeFirst() }
      if done { return nil }
      if !started {
        started = true
        guard end > 0 else {
          done = true
          return nil
        }
        storedSteps.append(0)
        return .store(slot: 0, step: 0)
      }
      if end - current >= 2 {
        // Working state holds s_current, the top snapshot.
        let slotsForRange = snapshots - storedSteps.count + 1  // includes s_current's slot
        let split = CheckpointSchedule.optimalSplit(steps: end - current, snapshots: slotsForRange)
        let advance = CheckpointAction.advance(from: current, to: current + split)
        current += split
        // A single remaining step is reversed straight from the working state.
        if end - current >= 2 {
          pending.append(.store(slot: storedSteps.count, step: current))
          storedSteps.append(current)
        }
        return advance
      }
      let reverse = CheckpointAction.reverse(step: end - 1)
      end -= 1
      if storedSteps.last == end { storedSteps.removeLast() }
      if let top = storedSteps.last {
        pending.append(.restore(slot: storedSteps.count - 1, step: top))
        current = top
      } else {
        done = true
      }
      return reverse
    }
  }
}
