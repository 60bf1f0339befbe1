/// The buffers MemoryPlanner has placed, ordered by offset (ties in
/// placement order), cut into blocks of about √n. The best-fit scan visits
/// them in that order, as the filter-then-stable-sort it replaces did, so
/// every decision is the same; but a block none of whose buffers is alive
/// with the new one is skipped whole, and a block all of whose buffers are
/// is read from its summary (its gaps sorted by size) instead of buffer by
/// buffer. A long chain's forward values, alive together until the backward
/// pass, are such blocks: planning is no longer quadratic in their number.
struct PlacedBuffers {
  struct Block {
    var starts: [Int] = []
    var ends: [Int] = []
    var firsts: [Int] = []
    var lasts: [Int] = []
    var minFirst = Int.max, maxFirst = Int.min, minLast = Int.max, maxLast = Int.min
    var maxEnd = 0
    /// The gaps before the 2nd, 3rd, ... buffer when all are in the scan
    /// and the cursor enters at or below the first start: (gap, offset),
    /// by gap then offset.
    var gaps: [(gap: Int, offset: Int)] = []

    mutating func summarise() {
      minFirst = firsts.min() ?? Int.max
      maxFirst = firsts.max() ?? Int.min
      minLast = lasts.min() ?? Int.max
      maxLast = lasts.max() ?? Int.min
      maxEnd = ends.max() ?? 0
      gaps.removeAll(keepingCapacity: true)
      guard var cursor = ends.first else { return }
      for k in starts.indices.dropFirst() {
        gaps.append((starts[k] - cursor, cursor))
        cursor = max(cursor, ends[k])
      }
      gaps.sort { $0.gap != $1.gap ? $0.gap < $1.gap : $0.offset < $1.offset }
    }
  }

  let capacity: Int
  var blocks: [Block] = []

  init(capacity: Int) { self.capacity = max(2, capacity) }

  /// The smallest gap between the placed buffers alive at the same time as
  /// `b` that holds it (the lowest on ties), else the end of the highest;
  /// an exact fit ends the scan, since no later gap is smaller and enough.
  func bestFit(_ b: MemoryPlanner.Buffer) -> Int {
    var bestOffset = -1
    var bestGap = Int.max
    var cursor = 0
    func consider(_ gap: Int, _ offset: Int) -> Bool {
      if gap >= b.size && gap < bestGap { (bestOffset, bestGap) = (offset, gap) }
      return bestGap == b.size
    }
    for block in blocks {
      if block.maxLast < b.firstUse || block.minFirst > b.lastUse { continue }
      if block.maxFirst <= b.lastUse && block.minLast >= b.firstUse && cursor <= block.starts[0] {
        if consider(block.starts[0] - cursor, cursor) { break }
        let k = lowerBound(block.gaps, b.size)
        if k < block.gaps.count, consider(block.gaps[k].gap, block.gaps[k].offset) { break }
        cursor = block.maxEnd
        continue
      }
      var done = false
      for k in block.starts.indices
      where block.firsts[k] <= b.lastUse && b.firstUse <= block.lasts[k] {
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

  /// The first gap of at least `size` in `gaps` (sorted by gap).
  private func lowerBound(_ gaps: [(gap: Int, offset: Int)], _ size: Int) -> Int {
    var (low, high) = (0, gaps.count)
    while low < high {
      let mid = (low + high) / 2
      if gaps[mid].gap < size { low = mid + 1 } else { high = mid }
    }
    return low
  }

  /// Adds `b` at `offset`, after every placed buffer at an offset at or
  /// below it; a full block is split in two.
  mutating func insert(_ b: MemoryPlanner.Buffer, at offset: Int) {
    if blocks.isEmpty { blocks.append(Block()) }
    let j = blocks.firstIndex { $0.starts.last.map { $0 > offset } ?? false } ?? blocks.count - 1
    var (low, high) = (0, blocks[j].starts.count)
    while low < high {
      let mid = (low + high) / 2
      if blocks[j].starts[mid] <= offset { low = mid + 1 } else { high = mid }
    }
    blocks[j].starts.insert(offset, at: low)
    blocks[j].ends.insert(offset + b.size, at: low)
    blocks[j].firsts.insert(b.firstUse, at: low)
    blocks[j].lasts.insert(b.lastUse, at: low)
    if blocks[j].starts.count > 2 * capacity {
      let half = blocks[j].starts.count / 2
      var upper = Block()
      upper.starts = Array(blocks[j].starts[half...])
      upper.ends = Array(blocks[j].ends[half...])
      upper.firsts = Array(blocks[j].firsts[half...])
      upper.lasts = Array(blocks[j].lasts[half...])
      blocks[j].starts.removeSubrange(half...)
      blocks[j].ends.removeSubrange(half...)
      blocks[j].firsts.removeSubrange(half...)
      blocks[j].lasts.removeSubrange(half...)
      upper.summarise()
      blocks.insert(upper, at: j + 1)
    }
    blocks[j].summarise()
  }
}
