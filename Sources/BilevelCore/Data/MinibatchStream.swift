import BilevelFrontEnd

/// When a minibatch stream draws a new batch.
public enum BatchCadence: String, Sendable {
  /// A new batch at every inner step (the unrolled methods replay them backward).
  case innerStep = "inner_step"
  /// One batch per outer step, for every inner step and product of that step.
  case outerStep = "outer_step"
}

/// `batch b = rows(n, size: k, seed: s, per: ..., replace: ...)`: a seeded
/// stream of k row numbers out of n. The batch of (outer step o, inner
/// step i) is a pure function of (seed, o, i), so it is the same whoever
/// asks, in whatever order, on any number of threads: a replay backward or
/// a recomputation from a checkpoint sees the batch the forward step saw.
///
/// Draw: one RandomStream per batch, seeded with SplitMix64-style mixing
/// of (seed, o, i) (`streamSeed`). Without replacement, Floyd's algorithm
/// (for j in n−k..<n: r = uniform in 0...j; take r, or j when r is taken),
/// then sorted ascending; with replacement, k uniform rows in draw order.
/// A uniform row in 0...j is `Int(uniform · (j + 1))`, uniform as in RandomStream.
public struct MinibatchStream: Sendable {
  public let name: String
  /// The rows drawn from (the data's row count).
  public let population: Int
  public let size: Int
  public let seed: UInt64
  public let cadence: BatchCadence
  public let replace: Bool
  public let range: SourceRange

  public init(
    name: String, population: Int, size: Int, seed: UInt64, cadence: BatchCadence,
    replace: Bool, range: SourceRange
  ) {
    self.name = name
    self.population = population
    self.size = size
    self.seed = seed
    self.cadence = cadence
    self.replace = replace
    self.range = range
  }

  /// The seed of the batch of outer step `outer` and inner step `inner`
  /// (the inner step is ignored for a stream drawn per outer step).
  public func streamSeed(outer: Int, inner: Int) -> UInt64 {
    let i = cadence == .innerStep ? UInt64(inner) : 0
    return RandomStream.mix(RandomStream.mix(RandomStream.mix(seed) ^ UInt64(outer)) ^ i)
  }

  /// Writes the batch's `size` row numbers (0-based) into `rows`; allocates nothing.
  public func draw(outer: Int, inner: Int, into rows: UnsafeMutablePointer<Int>) {
    var random = RandomStream(seed: streamSeed(outer: outer, inner: inner))
    if replace {
      for k in 0..<size { rows[k] = random.below(population) }
      return
    }
    random.distinctSorted(size, of: population, into: rows)
  }

  /// The batch as an array (tests, explain).
  public func rows(outer: Int, inner: Int) -> [Int] {
    [Int](unsafeUninitializedCapacity: size) { buffer, count in
      draw(outer: outer, inner: inner, into: buffer.baseAddress!)
      count = size
    }
  }
}

/// What picks a view's rows: a minibatch stream, or one part of an episode stream.
public enum RowSource: Sendable, Hashable {
  /// An index into `Program.batches`.
  case batch(Int)
  /// An index into `Program.episodes`, and which part of each task.
  case episode(Int, query: Bool)
}

/// `X[b, :]`, `y[b]` or `X[s[t], :]`: the rows of a data entry that a
/// minibatch or an episode selects, a leaf of the graph (an input) that the
/// solvers fill before each step (per task for episodes).
public struct BatchView: Sendable, Hashable {
  /// The input leaf (an index into `Program.inputs`).
  public let input: Int
  /// The data entry whose rows are taken.
  public let data: Int
  public let source: RowSource
  public init(input: Int, data: Int, source: RowSource) {
    self.input = input
    self.data = data
    self.source = source
  }
}
