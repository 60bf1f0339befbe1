import BilevelCore
import BilevelFrontEnd
import Testing

/// The draws behind `batch b = rows(...)`: a pure function of (seed, outer
/// step, inner step), in range, distinct without replacement.
@Suite struct MinibatchStreamTests {
  static func stream(
    _ population: Int, _ size: Int, replace: Bool, per: BatchCadence = .innerStep, seed: UInt64 = 3
  ) -> MinibatchStream {
    MinibatchStream(
      name: "b", population: population, size: size, seed: seed, cadence: per, replace: replace,
      range: SourceRange(file: SourceFile(path: "t.blv", text: "b"), start: 0, end: 1))
  }

  @Test func withoutReplacementDrawsDistinctSortedRows() {
    for (n, k) in [(10, 10), (10, 1), (1000, 32), (5, 3)] {
      let s = Self.stream(n, k, replace: false)
      for outer in 0..<20 {
        let rows = s.rows(outer: outer, inner: outer % 3)
        #expect(rows.count == k)
        #expect(rows == rows.sorted() && Set(rows).count == k)
        #expect(rows.allSatisfy { (0..<n).contains($0) })
      }
    }
    // Every row is drawn, and about equally often.
    let s = Self.stream(8, 2, replace: false)
    var counts = [Int](repeating: 0, count: 8)
    for i in 0..<4000 { for r in s.rows(outer: 0, inner: i) { counts[r] += 1 } }
    #expect(counts.allSatisfy { abs($0 - 1000) < 150 }, "\(counts)")
  }

  @Test func withReplacementStaysInRangeAndRepeats() {
    let s = Self.stream(4, 12, replace: true)
    let rows = s.rows(outer: 1, inner: 2)
    #expect(rows.count == 12 && rows.allSatisfy { (0..<4).contains($0) })
    #expect(Set(rows).count < 12)
  }

  @Test func aBatchIsAFunctionOfSeedAndSteps() {
    let s = Self.stream(100, 7, replace: false)
    #expect(s.rows(outer: 3, inner: 4) == s.rows(outer: 3, inner: 4))
    #expect(s.rows(outer: 3, inner: 4) != s.rows(outer: 3, inner: 5))
    #expect(s.rows(outer: 3, inner: 4) != s.rows(outer: 4, inner: 3))
    #expect(
      s.rows(outer: 3, inner: 4)
        != Self.stream(100, 7, replace: false, seed: 4).rows(outer: 3, inner: 4))
    let perOuter = Self.stream(100, 7, replace: false, per: .outerStep)
    #expect(perOuter.rows(outer: 2, inner: 0) == perOuter.rows(outer: 2, inner: 9))
  }
}
