import Dispatch
import Synchronization

/// The tasks' inner problems are independent, so the methods run their
/// per-task work (sweeps, solves, adjoint solves, perturbations) on several
/// threads and then reduce the per-task results in task order: the result
/// is the same, bit for bit, whatever the number of threads.
///
/// Why this is safe: the body is @Sendable and its results Sendable, so the
/// compiler checks that tasks share only values and locked or immutable
/// state. The one thing they write through a shared reference is a compiled
/// function's arena (Plan's unchecked claim): each task has its own compiled
/// functions, built under a per-task lock (BilevelProblem.build), and a
/// task's closure only runs that task's functions. The kernels' own
/// pool serves one caller at a time and runs a concurrent caller's parts on
/// that caller's thread, with the same bits.
public enum TaskParallel {
  /// `body(t)` for t in 0..<count on up to `threads` threads (plain
  /// sequential with 1), the results by index. A failure rethrows the one
  /// of the lowest task, as the sequential loop would; tasks after a known
  /// failure are skipped.
  public static func map<T: Sendable, E: Error>(
    _ count: Int, threads: Int, _ body: @Sendable (Int) throws(E) -> T
  ) throws(E) -> [T] {
    let workers = min(max(1, threads), count)
    if workers <= 1 {
      var out: [T] = []
      out.reserveCapacity(count)
      for t in 0..<count { out.append(try body(t)) }
      return out
    }
    // Each slot is written once, by the thread that ran its task.
    let results = Mutex([Result<T, E>?](repeating: nil, count: count))
    let claims = Claims()
    // Tasks are claimed one at a time (their costs differ).
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
      while true {
        let t = claims.next.wrappingAdd(1, ordering: .relaxed).oldValue
        if t >= count { return }
        if t > claims.failed.load(ordering: .relaxed) { continue }
        let result: Result<T, E>
        do throws(E) {
          result = .success(try body(t))
        } catch {
          result = .failure(error)
          claims.fail(t)
        }
        results.withLock { $0[t] = result }
      }
    }
    var out: [T] = []
    out.reserveCapacity(count)
    for slot in results.withLock({ $0 }) {
      switch slot! {
      case .success(let value): out.append(value)
      case .failure(let error): throw error
      }
    }
    return out
  }

  /// Values one pass over the tasks made for the next, each taken once by
  /// its task's thread, which then owns it: no copy stays behind, so the
  /// taker mutates its buffers in place.
  final class Handoff<Value: Sendable>: Sendable {
    let values: Mutex<[Value?]>
    init(_ values: consuming [Value]) { self.values = Mutex(values.map { $0 }) }

    func take(_ t: Int) -> Value {
      values.withLock { slots in
        let value = slots[t]
        slots[t] = nil
        return value!
      }
    }
  }

  final class Claims: Sendable {
    let next = Atomic<Int>(0)
    /// The lowest failed task (Int.max: none).
    let failed = Atomic<Int>(.max)

    func fail(_ t: Int) {
      var seen = failed.load(ordering: .relaxed)
      while t < seen {
        let (exchanged, original) = failed.compareExchange(
          expected: seen, desired: t, ordering: .relaxed)
        if exchanged { return }
        seen = original
      }
    }
  }

  /// parts[0] + parts[1] + … in task order: the deterministic reduction of
  /// per-task contributions.
  public static func sum(_ parts: [[Double]]) -> [Double] {
    guard var total = parts.first else { return [] }
    for part in parts.dropFirst() {
      precondition(part.count == total.count)
      for i in total.indices { total[i] += part[i] }
    }
    return total
  }
}

extension BilevelProblem {
  /// `body(t)` for every task, on `threads` threads; results in task order.
  func eachTask<T: Sendable, E: Error>(_ body: @Sendable (Int) throws(E) -> T) throws(E) -> [T] {
    try TaskParallel.map(tasks, threads: threads, body)
  }

  /// Where task t's contribution to the gradient accumulates: task 0's
  /// starts from the explicit term ∂L_out/∂φ (so that a one-task program
  /// adds in the order it always did), the others' from zero; the sum over
  /// tasks in task order is the gradient.
  func accumulator(_ t: Int, explicit: [Double]) -> [Double] {
    t == 0 ? explicit : [Double](repeating: 0, count: explicit.count)
  }
}
