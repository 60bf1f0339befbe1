import TestSupport
import Testing

@testable import BilevelCore

/// The memory planner against the algorithm it replaced (kept here as the
/// reference): the same offset for every buffer, so plans and their arena
/// figures stay bit-identical, on random liveness patterns with ties, zero
/// sizes and the nested lifetimes of a long chain's forward values.
@Suite struct MemoryPlannerTests {
  /// The quadratic best fit the planner used before: the buffers alive at
  /// the same time, sorted by offset, scanned for the smallest gap.
  static func reference(_ buffers: [MemoryPlanner.Buffer]) -> [Int] {
    let order = buffers.indices.sorted {
      let (a, b) = (buffers[$0], buffers[$1])
      if a.size != b.size { return a.size > b.size }
      if a.firstUse != b.firstUse { return a.firstUse < b.firstUse }
      return $0 < $1
    }
    var offsets = [Int](repeating: 0, count: buffers.count)
    var placed: [Int] = []
    for i in order {
      let b = buffers[i]
      let conflicts = placed.filter {
        buffers[$0].firstUse <= b.lastUse && b.firstUse <= buffers[$0].lastUse
      }
      .map { (offsets[$0], offsets[$0] + buffers[$0].size) }.sorted { $0.0 < $1.0 }
      var best: (offset: Int, gap: Int)? = nil
      var cursor = 0
      for (start, end) in conflicts {
        if start - cursor >= b.size, best == nil || start - cursor < best!.gap {
          best = (cursor, start - cursor)
        }
        cursor = max(cursor, end)
      }
      offsets[i] = best?.offset ?? cursor
      placed.append(i)
    }
    return offsets
  }

  /// With the default blocks and with tiny ones, so that block splits,
  /// skipped blocks and summarised blocks all occur.
  static func check(_ buffers: [MemoryPlanner.Buffer]) {
    let expected = reference(buffers)
    for capacity in [nil, 2, 3, 5] {
      let placement = MemoryPlanner.place(buffers, blockCapacity: capacity)
      #expect(placement.offsets == expected)
      #expect(placement.size == zip(expected, buffers).map { $0 + $1.size }.reduce(0, max))
      #expect(MemoryPlanner.overlap(buffers, placement) == nil)
    }
  }

  @Test func randomLivenessIsPlacedAsTheReferencePlacesIt() {
    var rng = SplitMix(state: 11)
    for _ in 0..<2000 {
      let count = 1 + rng.below(60)
      let steps = 1 + rng.below(40)
      let sizes = (0..<(1 + rng.below(4))).map { _ in rng.below(12) }
      let buffers = (0..<count).map { _ in
        let first = rng.below(steps)
        let last = first + (rng.chance(20) ? rng.below(steps) : rng.below(4))
        return MemoryPlanner.Buffer(size: rng.pick(sizes), firstUse: first, lastUse: last)
      }
      Self.check(buffers)
    }
  }

  /// A chain's forward values live until the backward pass reaches them;
  /// the backward temporaries are short-lived and fall into the gaps.
  @Test func nestedChainLifetimesArePlacedAsTheReferencePlacesThem() {
    var rng = SplitMix(state: 12)
    for n in [1, 2, 7, 50, 300] {
      var buffers: [MemoryPlanner.Buffer] = []
      for k in 0..<n {
        buffers.append(.init(size: 1 + rng.below(3), firstUse: k, lastUse: 2 * n - k))
        buffers.append(.init(size: 1 + rng.below(3), firstUse: 2 * n - k, lastUse: 2 * n - k + 1))
        buffers.append(.init(size: rng.below(2), firstUse: k, lastUse: k))
      }
      Self.check(buffers)
    }
  }
}
