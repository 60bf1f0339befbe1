/// One action of a checkpointed reverse sweep over states s_0 … s_T of a
/// loop s_{t+1} = Φ(s_t). The executor has `snapshots` snapshot slots, one
/// working state ("current") and the cotangent.
public enum CheckpointAction: Equatable, Sendable {
  /// Copy the working state (which holds s_step) into the slot.
  case store(slot: Int, step: Int)
  /// Copy the slot (holding s_step) into the working state.
  case restore(slot: Int, step: Int)
  /// Advance the working state from s_from to s_to by (to − from) applications of Φ.
  case advance(from: Int, to: Int)
  /// The working state holds s_step: pull the cotangent back through step `step` (s_step → s_{step+1}).
  case reverse(step: Int)
}

/// Binomial checkpointing (Griewank & Walther, "revolve") as a pure schedule.
///
/// Conventions:
/// - Cost is the number of Φ applications made during the reverse sweep (the
///   sum of `advance` lengths). The caller's forward sweep to s_T is not counted,
///   and neither is the Φ evaluation a `reverse` may do internally.
/// - The first action (for steps ≥ 1) is `store(slot: 0, step: 0)`; s_0 stays in
///   slot 0 until step 0 is reversed.
/// - After `reverse` the schedule never reads the working state again before a
///   `restore`, so an executor may pull back in place and clobber it.
/// - Slots are used as a stack: the k-th live snapshot is in slot k − 1.
///
/// Optimum (c = snapshots, l = steps, β(c, r) = C(c + r, c)): for l ≤ 1 it is 0;
/// otherwise with the repetition number r = min{ r : β(c, r) ≥ l },
///   t(l, c) = r·l − β(c + 1, r − 1) = r·l − C(c + r, c + 1).
/// With c ≥ l − 1 this gives l − 1 (one pass to s_{l−1}, storing s_0 … s_{l−2});
/// with c = 1 it gives l(l − 1)/2.
public enum CheckpointSchedule {
  /// The schedule that reverses T steps with `snapshots` slots (≥ 1; slot 0 first receives s_0),
  /// starting from a working state holding s_0 and with the cotangent already at s_T
  /// (the forward sweep to s_T is NOT part of the schedule; the caller ran it).
  /// reverse(step:) actions appear for T−1, T−2, …, 0 in that order.
  /// Recomputation (total advance steps) is the binomial optimum for this number of slots.
  /// Runs in O(T·r) time, r the repetition number (≈ recomputation / T); `BinomialSchedule`
  /// yields the same actions one at a time in O(snapshots) memory.
  public static func binomial(steps: Int, snapshots: Int) -> [CheckpointAction] {
    Array(BinomialSchedule(steps: steps, snapshots: snapshots))
  }

  /// The minimal number of Φ applications any schedule with `snapshots` slots needs to reverse `steps` steps
  /// (the Griewank–Walther bound; with one slot, steps·(steps−1)/2), from the closed form above.
  public static func optimalRecomputation(steps: Int, snapshots: Int) -> Int {
    precondition(steps >= 0, "steps must be non-negative")
    precondition(snapshots >= 1, "need at least one snapshot slot")
    guard steps > 1 else { return 0 }
    let c = min(snapshots, steps - 1)  // more slots than steps − 1 cannot help
    // An estimate for any user's step count: saturates at Int.max, and one
    // slot (β = r + 1) takes the closed form rather than `steps` iterations.
    if c == 1 {
      return saturatingProduct(steps, steps - 1) == Int.max ? Int.max : steps * (steps - 1) / 2
    }
    var r = 0
    var beta = 1  // β(c, r)
    while beta < steps {
      r += 1
      let (product, overflow) = beta.multipliedReportingOverflow(by: c + r)
      if overflow { return Int.max }
      beta = product / r
    }
    // C(c + r, c + 1) = C(c + r, c) · r / (c + 1).
    let (total, overflowTotal) = r.multipliedReportingOverflow(by: steps)
    let (tail, overflowTail) = beta.multipliedReportingOverflow(by: r)
    return overflowTotal || overflowTail ? Int.max : total - tail / (c + 1)
  }

  /// Steps the reverse sweep retakes for their residuals: those reached by an
  /// advance. The others are the last step (its residuals kept from the
  /// forward sweep) and each stored step, whose residuals its snapshot keeps
  /// from the advance that left it: T − 2 − (snapshots stored after s_0).
  /// Nil past 1000 snapshots or 10⁷ recomputed steps, where counting the
  /// splits would take long (and recurse one level per snapshot).
  public static func retakenSteps(steps: Int, snapshots: Int) -> Int? {
    precondition(steps >= 0, "steps must be non-negative")
    precondition(snapshots >= 1, "need at least one snapshot slot")
    guard steps > 2 else { return 0 }
    // One slot stores nothing after s_0, T − 1 slots every state: no splits to count.
    let direct = snapshots == 1 || snapshots >= steps - 1
    guard
      direct
        || (snapshots <= 1000
          && optimalRecomputation(steps: steps, snapshots: snapshots) <= 10_000_000)
    else { return nil }
    var memo: [SIMD2<Int>: Int] = [:]
    return steps - 2 - storesAfterStart(steps: steps, snapshots: snapshots, memo: &memo)
  }

  /// Snapshots stored while reversing l steps from a stored start with c
  /// slots, as `BinomialSchedule` splits them: the right part takes a slot
  /// (when it has two steps or more) and c − 1 for itself; the left keeps c.
  static func storesAfterStart(
    steps l: Int, snapshots c: Int, memo: inout [SIMD2<Int>: Int]
  ) -> Int {
    if l <= 2 || c == 1 { return 0 }
    if c >= l - 1 { return l - 2 }  // every state s_1 … s_{l−2} gets a slot
    let key = SIMD2(l, c)
    if let known = memo[key] { return known }
    var total = 0
    var left = l
    while left > 2 && c < left - 1 {
      let j = optimalSplit(steps: left, snapshots: c)
      if left - j >= 2 {
        total += 1 + storesAfterStart(steps: left - j, snapshots: c - 1, memo: &memo)
      }
      left = j
    }
    if left > 2 { total += left - 2 }
    memo[key] = total
    return total
  }

  /// Advance steps a schedule performs (sum of to − from over advance actions).
  public static func recomputation(_ schedule: [CheckpointAction]) -> Int {
    schedule.reduce(0) { total, action in
      if case .advance(let from, let to) = action { return total + (to - from) }
      return total
    }
  }

  /// Offset j of the next snapshot when reversing l ≥ 2 steps with c slots (one holding the
  /// start). The left part [0, j) is advanced once more, so it must fit repetition r − 1 with
  /// c slots: j ≤ β(c, r − 1); the right part must fit repetition r with c − 1 slots:
  /// l − j ≥ β(c − 1, r − 1) keeps it on the slope-r piece. The largest such j is optimal.
  static func optimalSplit(steps l: Int, snapshots: Int) -> Int {
    let c = min(snapshots, l - 1)
    if c == 1 { return l - 1 }  // avoids an O(l) search for r
    var r = 0
    var beta = 1  // β(c, r)
    var previousBeta = 0  // β(c, r − 1)
    while beta < l {
      r += 1
      previousBeta = beta
      beta = beta * (c + r) / r
    }
    // β(c − 1, r − 1) = β(c, r − 1) · c / (c + r − 1).
    let rightMinimum = previousBeta * c / (c + r - 1)
    return min(previousBeta, l - rightMinimum)
  }
}
