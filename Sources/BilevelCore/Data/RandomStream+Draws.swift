/// Integer draws that the minibatch and episode streams share: the same
/// arithmetic for both, so a stream's rows are fixed by its seed alone.
extension RandomStream {
  /// SplitMix64's finaliser: decorrelates seeds built from counters (step, task).
  public static func mix(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A uniform integer in 0..<count.
  public mutating func below(_ count: Int) -> Int {
    min(count - 1, Int(nextUniform() * Double(count)))
  }

  /// `count` distinct integers of 0..<population, ascending, into `out`:
  /// Floyd's algorithm, then an insertion sort (draws are small, and sorted
  /// rows read the data in order). Allocates nothing.
  public mutating func distinctSorted(
    _ count: Int, of population: Int, into out: UnsafeMutablePointer<Int>
  ) {
    var taken = 0
    for j in (population - count)..<population {
      let r = below(j + 1)
      var seen = false
      for k in 0..<taken where out[k] == r {
        seen = true
        break
      }
      out[taken] = seen ? j : r
      taken += 1
    }
    for k in 1..<max(1, count) {
      let v = out[k]
      var p = k - 1
      while p >= 0 && out[p] > v {
        out[p + 1] = out[p]
        p -= 1
      }
      out[p + 1] = v
    }
  }
}
