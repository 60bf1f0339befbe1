/// The buffers MemoryPlanner has placed and may still conflict with the
/// next, ordered by offset (ties in placement order), cut into blocks of
/// about √n. The best-fit scan visits them in that order, as the
/// filter-then-stable-sort it replaces did, so every decision is the same;
/// but a block none of whose buffers is alive with the new one is skipped
/// whole, and a block all of whose buffers are is read from its summary
/// (its gaps sorted by size) instead of buffer by buffer. The planner
/// removes buffers that died before every later query starts, so the
/// blocks stay all-alive and a long chain's planning stays near linear.
struct PlacedBuffers {
  struct Block {
    var starts: [Int] = []
    var ends: [Int] = []
    var firsts: [Int] = []
    var lasts: [Int] = []
    /// Placement order: ties at one offset are kept in it.
    var sequences: [Int] = []
    var minFirst = Int.max, maxFirst = Int.min, minLast = Int.max, maxLast = Int.min
    var maxEnd = 0
    /// The gaps (≥ 0) before the 2nd, 3rd, ... buffer when all are in the
    /// scan and the cursor enters at or below the first start, sorted, each
    /// packed as gap << shift | k for the buffer k it ends at (integers
    /// sort far faster than tuples; k orders ties as offsets do).
    var gaps: [Int] = []
    var shift = 0
    /// The cursor before buffer k (where a gap ending at k starts).
    var cursors: [Int] = []

    mutating func summarise() {
      minFirst = firsts.min() ?? Int.max
      maxFirst = firsts.max() ?? Int.min
      minLast = lasts.min() ?? Int.max
      maxLast = lasts.max() ?? Int.min
      maxEnd = ends.max() ?? 0
      gaps.removeAll(keepingCapacity: true)
      cursors.removeAll(keepingCapacity: true)
      guard var cursor = ends.first else { return }
      shift = Int.bitWidth - starts.count.leadingZeroBitCount
      cursors.append(cursor)
      for k in starts.indices.dropFirst() {
        cursors.append(cursor)
        let gap = starts[k] - cursor
        // Offsets count doubles in memory, far below 2^(63 - shift).
        precondition(gap <= Int.max >> shift, "an arena beyond any memory")
        if gap >= 0 { gaps.append(gap << shift | k) }
        cursor = max(cursor, ends[k])
      }
      gaps.sort()
    }

    /// The smallest gap of at least `size` (the lowest on ties), if any.
    func smallestGap(holding size: Int) -> (gap: Int, offset: Int)? {
      guard size <= Int.max >> shift else { return nil }
      let key = size << shift
      var (low, high) = (0, gaps.count)
      while low < high {
        let mid = (low + high) / 2
        if gaps[mid] < key { low = mid + 1 } else { high = mid }
      }
      guard low < gaps.count else { return nil }
      return (gaps[low] >> shift, cursors[gaps[low] & ((1 << shift) - 1)])
    }
  }

  let capacity: Int
  var blocks: [Block] = []
  /// Block entries visited by `bestFit` and moved by `insert`/`remove`: the
  /// planner's work, which tests check grows linearly with the buffers.
  var steps = 0

  init(capacity: Int) { self.capacity = max(2, capacity) }

  /// The smallest gap between the placed buffers alive at the same time as
  /// `b` that holds it (the lowest on ties), else the end of the highest;
  /// an exact fit ends the scan, since no later gap is smaller and enough.
  mutating func bestFit(_ b: MemoryPlanner.Buffer) -> Int {
    var bestOffset = -1
    var bestGap = Int.max
    var cursor = 0
    func consider(_ gap: Int, _ offset: Int) -> Bool {
      if gap >= b.size && gap < bestGap { (bestOffset, bestGap) = (offset, gap) }
      return bestGap == b.size
    }
    for block in blocks {
      steps += 1
      if block.maxLast < b.firstUse || block.minFirst > b.lastUse { continue }
      if block.maxFirst <= b.lastUse && block.minLast >= b.firstUse && cursor <= block.starts[0] {
        if consider(block.starts[0] - cursor, cursor) { break }
        if let g = block.smallestGap(holding: b.size), consider(g.gap, g.offset) { break }
        cursor = block.maxEnd
        continue
      }
      var done = false
      for k in block.starts.indices
      where block.firsts[k] <= b.lastUse && b.firstUse <= block.lasts[k] {
        steps += 1
        if consider(block.starts[k] - cursor, cursor) {
          done = true
          break
        }
        cursor = max(cursor, block.ends[k])
      }
      if done { break }
    }
    return bestOffset >= 0 ? bestOffset : cursor
  }

  /// Where `(offset, sequence)` goes: its block and index there, after every
  /// entry at a lower offset or at the same offset placed before it.
  private func position(_ offset: Int, _ sequence: Int) -> (block: Int, index: Int) {
    func before(_ block: Block, _ k: Int) -> Bool {
      block.starts[k] < offset || (block.starts[k] == offset && block.sequences[k] < sequence)
    }
    var (low, high) = (0, blocks.count - 1)
    while low < high {
      let mid = (low + high) / 2
      if before(blocks[mid], blocks[mid].starts.count - 1) { low = mid + 1 } else { high = mid }
    }
    var (k, end) = (0, blocks[low].starts.count)
    while k < end {
      let mid = (k + end) / 2
      if before(blocks[low], mid) { k = mid + 1 } else { end = mid }
    }
    return (low, k)
  }

  /// Adds `b` at `offset`; a full block is split in two.
  mutating func insert(_ b: MemoryPlanner.Buffer, at offset: Int, sequence: Int) {
    if blocks.isEmpty { blocks.append(Block()) }
    let (j, low) = blocks[0].starts.isEmpty ? (0, 0) : position(offset, sequence)
    steps += blocks[j].starts.count
    blocks[j].starts.insert(offset, at: low)
    blocks[j].ends.insert(offset + b.size, at: low)
    blocks[j].firsts.insert(b.firstUse, at: low)
    blocks[j].lasts.insert(b.lastUse, at: low)
    blocks[j].sequences.insert(sequence, at: low)
    if blocks[j].starts.count > 2 * capacity {
      let half = blocks[j].starts.count / 2
      var upper = Block()
      upper.starts = Array(blocks[j].starts[half...])
      upper.ends = Array(blocks[j].ends[half...])
      upper.firsts = Array(blocks[j].firsts[half...])
      upper.lasts = Array(blocks[j].lasts[half...])
      upper.sequences = Array(blocks[j].sequences[half...])
      blocks[j].starts.removeSubrange(half...)
      blocks[j].ends.removeSubrange(half...)
      blocks[j].firsts.removeSubrange(half...)
      blocks[j].lasts.removeSubrange(half...)
      blocks[j].sequences.removeSubrange(half...)
      upper.summarise()
      blocks.insert(upper, at: j + 1)
    }
    blocks[j].summarise()
  }

  /// Takes out the buffer inserted at `offset` with `sequence`.
  mutating func remove(at offset: Int, sequence: Int) {
    let (j, k) = position(offset, sequence)
    precondition(blocks[j].sequences[k] == sequence, "removing a buffer that is not placed")
    steps += blocks[j].starts.count
    blocks[j].starts.remove(at: k)
    blocks[j].ends.remove(at: k)
    blocks[j].firsts.remove(at: k)
    blocks[j].lasts.remove(at: k)
    blocks[j].sequences.remove(at: k)
    if blocks[j].starts.isEmpty && blocks.count > 1 {
      blocks.remove(at: j)
    } else {
      blocks[j].summarise()
    }
  }
}
