/// Estimates multiply user numbers (steps, checkpoints, samples, sizes,
/// tasks): they saturate at Int.max, which reads as "over any budget",
/// instead of trapping on overflow.
func saturatingProduct(_ factors: Int...) -> Int {
  var p = 1
  for f in factors {
    let (q, overflow) = p.multipliedReportingOverflow(by: max(0, f))
    if overflow { return Int.max }
    p = q
  }
  return p
}

func saturatingSum(_ terms: Int...) -> Int {
  var s = 0
  for t in terms {
    let (u, overflow) = s.addingReportingOverflow(max(0, t))
    if overflow { return Int.max }
    s = u
  }
  return s
}

extension Bytes {
  /// A budget in MB as bytes; budgets beyond Int.max bytes (1e13 MB, inf) are unlimited.
  static func megabytes(_ mb: Double) -> Int {
    let bytes = mb * 1024 * 1024
    guard bytes < Double(Int.max) else { return Int.max }
    return bytes > 0 ? Int(bytes) : 0
  }
}
