import BilevelFrontEnd

/// `episodes s[t], q[t] = classes(y, ways: N, shots: K, queries: Q, pool: P, seed: s)`:
/// N-way K-shot tasks built from the labelled rows of `y`. Pool task p
/// (0..<P) is a pure function of (seed, p): N distinct classes, then for
/// each of them K support and Q query rows, distinct, of that class. Its
/// rows are class-major (way 0's rows, then way 1's, ...), so the relabelled
/// class of row r is r / K in the support and r / Q in the query. At outer
/// step o the M tasks of the program are M distinct pool tasks drawn from
/// (seed, o). Nothing is stored per pool task: memory and setup do not grow
/// with P. Without a task suffix the selection is one fixed episode (pool task 0).
///
/// Draws (RandomStream seeded by mixing, as MinibatchStream): the pool tasks
/// of a step by Floyd's algorithm, sorted; classes by a partial
/// Fisher–Yates shuffle of the class list; each class's K + Q rows by a
/// partial Fisher–Yates shuffle of that class's rows.
public struct EpisodeStream: Sendable {
  public let name: (support: String, query: String)
  public let labels: Int
  public let ways: Int
  public let shots: Int
  public let queries: Int
  public let pool: Int
  public let seed: UInt64
  public let perTask: Bool
  /// The rows (0-based) of each class, classes in ascending order of label.
  public let classRows: [[Int]]
  public let range: SourceRange

  public init(
    name: (support: String, query: String), labels: Int, ways: Int, shots: Int, queries: Int,
    pool: Int, seed: UInt64, perTask: Bool, classRows: [[Int]], range: SourceRange
  ) {
    self.name = name
    self.labels = labels
    self.ways = ways
    self.shots = shots
    self.queries = queries
    self.pool = pool
    self.seed = seed
    self.perTask = perTask
    self.classRows = classRows
    self.range = range
  }

  /// Scratch entries `poolTask` and `rows` need (the caller owns them).
  public var scratchSize: Int { classRows.count + (classRows.map(\.count).max() ?? 0) }

  /// The pool task of slot `slot` of `slots` at outer step `outer`
  /// (`scratch` holds at least `slots` entries).
  public func poolTask(
    outer: Int, slot: Int, slots: Int, scratch: UnsafeMutablePointer<Int>
  ) -> Int {
    guard perTask else { return 0 }
    var random = RandomStream(
      seed: RandomStream.mix(RandomStream.mix(seed ^ 0x7461_736B) ^ UInt64(outer)))
    let m = min(slots, pool)
    random.distinctSorted(m, of: pool, into: scratch)
    return scratch[slot % max(1, m)]
  }

  /// Pool task `task`'s support (or query) rows into `rows`, class-major;
  /// `scratch` holds `scratchSize` entries. Allocates nothing.
  public func rows(
    task: Int, query: Bool, into rows: UnsafeMutablePointer<Int>, scratch: UnsafeMutablePointer<Int>
  ) {
    var random = RandomStream(seed: RandomStream.mix(RandomStream.mix(seed) ^ UInt64(task)))
    let classes = classRows.count
    // Ways: a partial Fisher–Yates over the class numbers, in scratch[0..<classes].
    for c in 0..<classes { scratch[c] = c }
    for w in 0..<ways {
      let j = w + random.below(classes - w)
      (scratch[w], scratch[j]) = (scratch[j], scratch[w])
    }
    // The classes stay in scratch[0..<ways]; each class's rows are shuffled after them.
    let base = scratch + classes
    var out = 0
    for w in 0..<ways {
      let members = classRows[scratch[w]]
      let count = members.count
      for i in 0..<count { base[i] = i }
      for i in 0..<(shots + queries) {
        let j = i + random.below(count - i)
        (base[i], base[j]) = (base[j], base[i])
      }
      let picked = query ? (shots..<(shots + queries)) : (0..<shots)
      for i in picked {
        rows[out] = members[base[i]]
        out += 1
      }
    }
  }

  /// Rows of one selection per task, as arrays (tests, the reference evaluator).
  public func rows(task: Int, query: Bool) -> [Int] {
    let scratch = UnsafeMutablePointer<Int>.allocate(capacity: scratchSize)
    defer { scratch.deallocate() }
    let n = ways * (query ? queries : shots)
    return [Int](unsafeUninitializedCapacity: n) { buffer, count in
      rows(task: task, query: query, into: buffer.baseAddress!, scratch: scratch)
      count = n
    }
  }

  /// The pool task of each slot at an outer step.
  public func poolTasks(outer: Int, slots: Int) -> [Int] {
    let scratch = UnsafeMutablePointer<Int>.allocate(capacity: max(1, slots))
    defer { scratch.deallocate() }
    return (0..<slots).map { poolTask(outer: outer, slot: $0, slots: slots, scratch: scratch) }
  }

  /// The relabelled classes (0..N−1) of a selection's rows.
  public func relabelled(query: Bool) -> [Double] {
    let per = query ? queries : shots
    return (0..<(ways * per)).map { Double($0 / per) }
  }
}
