/// Places values in the arena so that values alive at the same time never
/// overlap, reusing space as values die: greedy by size, best fit (as XLA's
/// and TFLite's planners do). The result is close to the largest live set.
public enum MemoryPlanner {
  public struct Buffer: Sendable {
    public let size: Int
    /// First and last instruction that touch it (inclusive).
    public let firstUse: Int
    public let lastUse: Int
  }

  public struct Placement: Sendable {
    public let offsets: [Int]
    /// The arena the buffers need.
    public let size: Int
    /// The largest total of buffers alive at one instruction: no plan can do better.
    public let maximumLive: Int
    /// What one buffer per value would take.
    public let withoutReuse: Int
    /// Entries the placement visited and moved (PlacedBuffers.steps): tests
    /// check it grows linearly with the buffers of a long chain.
    var steps = 0
  }

  /// `blockCapacity` sets the size of PlacedBuffers' blocks (tests use
  /// small ones to exercise the block boundaries).
  public static func place(_ buffers: [Buffer], blockCapacity: Int? = nil) -> Placement {
    // Largest first; ties by first use, then index, so the result is deterministic.
    let order = buffers.indices.sorted {
      let (a, b) = (buffers[$0], buffers[$1])
      if a.size != b.size { return a.size > b.size }
      if a.firstUse != b.firstUse { return a.firstUse < b.firstUse }
      return $0 < $1
    }
    var offsets = [Int](repeating: 0, count: buffers.count)
    var placed = PlacedBuffers(
      capacity: blockCapacity ?? max(16, Int(Double(buffers.count).squareRoot())))
    var arena = 0
    // Within one size, first uses only grow, so a buffer dead before this
    // one's first use conflicts with no later one of that size: it leaves
    // the scan (by `deaths`, earliest last use first) until the next size.
    var deaths = MinimumHeap()
    var removed: [Int] = []
    var sequence = [Int](repeating: 0, count: buffers.count)
    var size: Int? = nil
    for (k, i) in order.enumerated() {
      let b = buffers[i]
      if b.size != size {
        size = b.size
        for j in removed {
          placed.insert(buffers[j], at: offsets[j], sequence: sequence[j])
          deaths.push(buffers[j].lastUse, j)
        }
        removed.removeAll()
      }
      while let (last, j) = deaths.minimum, last < b.firstUse {
        deaths.pop()
        placed.remove(at: offsets[j], sequence: sequence[j])
        removed.append(j)
      }
      let offset = placed.bestFit(b)
      offsets[i] = offset
      arena = max(arena, offset + b.size)
      sequence[i] = k
      placed.insert(b, at: offset, sequence: k)
      deaths.push(b.lastUse, i)
    }
    let lastInstruction = buffers.map(\.lastUse).max() ?? -1
    var live = 0
    if lastInstruction >= 0 {
      var delta = [Int](repeating: 0, count: lastInstruction + 2)
      for b in buffers {
        delta[b.firstUse] += b.size
        delta[b.lastUse + 1] -= b.size
      }
      var current = 0
      for d in delta {
        current += d
        live = max(live, current)
      }
    }
    return Placement(
      offsets: offsets, size: arena, maximumLive: live,
      withoutReuse: buffers.reduce(0) { $0 + $1.size }, steps: placed.steps)
  }

  /// The first two buffers alive at the same instruction whose placed ranges
  /// overlap, described; nil when the placement is sound. Sweeps the
  /// buffers by first use, keeping the live ones ordered by offset, so each
  /// new buffer is compared with its neighbours only.
  static func overlap(_ buffers: [Buffer], _ placement: Placement) -> String? {
    let order = buffers.indices.filter { buffers[$0].size > 0 }.sorted {
      buffers[$0].firstUse < buffers[$1].firstUse
    }
    var live: [Int] = []  // by offset; pairwise disjoint
    for i in order {
      let b = buffers[i]
      live.removeAll { buffers[$0].lastUse < b.firstUse }
      let start = placement.offsets[i]
      guard start >= 0, start + b.size <= placement.size else {
        return
          "buffer \(i) at [\(start), \(start + b.size)) is outside the work region of \(placement.size)"
      }
      let position = live.firstIndex { placement.offsets[$0] >= start } ?? live.count
      for j in [position - 1, position].filter(live.indices.contains) {
        let o = placement.offsets[live[j]]
        if o < start + b.size && start < o + buffers[live[j]].size {
          return
            "buffers \(live[j]) [\(o), \(o + buffers[live[j]].size)) and \(i) [\(start), \(start + b.size)) "
            + "overlap while both are live (instructions \(b.firstUse)...\(min(b.lastUse, buffers[live[j]].lastUse)))"
        }
      }
      live.insert(i, at: position)
    }
    return nil
  }
}

/// Buffers by last use, earliest first: the planner's deaths to come.
struct MinimumHeap {
  private var entries: [(key: Int, value: Int)] = []

  var minimum: (key: Int, value: Int)? { entries.first }

  mutating func push(_ key: Int, _ value: Int) {
    entries.append((key, value))
    var k = entries.count - 1
    while k > 0, entries[(k - 1) / 2].key > entries[k].key {
      entries.swapAt(k, (k - 1) / 2)
      k = (k - 1) / 2
    }
  }

  mutating func pop() {
    entries.swapAt(0, entries.count - 1)
    entries.removeLast()
    var k = 0
    while true {
      let (l, r) = (2 * k + 1, 2 * k + 2)
      var m = k
      if l < entries.count, entries[l].key < entries[m].key { m = l }
      if r < entries.count, entries[r].key < entries[m].key { m = r }
      if m == k { return }
      entries.swapAt(k, m)
      k = m
    }
  }
}
