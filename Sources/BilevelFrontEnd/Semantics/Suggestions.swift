/// "Did you mean" for near misses: the closest candidate by edit distance,
/// if it is close enough to be a plausible typo.
public enum Suggestions {
  public static func closest(to name: String, among candidates: [String]) -> String? {
    let limit = max(1, min(3, name.count / 3))
    var best: (distance: Int, name: String)? = nil
    for c in candidates where c != name {
      let d = editDistance(name, c)
      // Ties go to the earlier candidate, so the answer is deterministic.
      if d <= limit, best == nil || d < best!.distance { best = (d, c) }
    }
    return best?.name
  }

  /// Damerau–Levenshtein (optimal string alignment) distance, case-insensitive
  /// for substitutions so `Lambda` suggests `lambda`.
  public static func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a.unicodeScalars)
    let y = Array(b.unicodeScalars)
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var previous2 = [Int](repeating: 0, count: y.count + 1)
    var previous = Array(0...y.count)
    var current = [Int](repeating: 0, count: y.count + 1)
    for i in 1...x.count {
      current[0] = i
      for j in 1...y.count {
        let same = x[i - 1] == y[j - 1]
        let caseOnly = !same && String(x[i - 1]).lowercased() == String(y[j - 1]).lowercased()
        let cost = same ? 0 : 1
        var v = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        if caseOnly { v = min(v, previous[j - 1]) }
        if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
          v = min(v, previous2[j - 2] + 1)
        }
        current[j] = v
      }
      (previous2, previous, current) = (previous, current, previous2)
    }
    return previous[y.count]
  }

  /// "; did you mean 'x'?" or nothing.
  public static func hint(for name: String, among candidates: [String]) -> String {
    closest(to: name, among: candidates).map { "; did you mean '\($0)'?" } ?? ""
  }
}
