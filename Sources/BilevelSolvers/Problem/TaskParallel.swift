import Dispatch
import Synchronization

/// The tasks' inner problems are independent, so the methods run their
/// per-task work (sweeps, solves, adjoint solves, perturbations) on several
/// threads and then reduce the per-task results in task order: the result
/// is the same, bit for bit, whatever the number of threads.
///
/// Why this is safe: each task has its own compiled functions (their own
/// arenas), built under a per-task lock (BilevelProblem.build), and a task's
/// closure only touches that task's functions and values. The kernels' own
/// pool serves one caller at a time and runs a concurrent caller's parts on
/// that caller's thread, with the same bits.
public enum TaskParallel {
  /// `body(t)` for t in 0..<count on up to `threads` threads (plain
  /// sequential with 1), the results by index. A failure rethrows the one
  /// of the lowest task, as the sequential loop would; tasks after a known
  /// failure are skipped.
  public static func map<T, E: Error>(_ count: Int, threads: Int, _ body: (Int) throws(E) -> T) throws(E) -> [T] {
    let workers = min(max(1, threads), count)
    if workers <= 1 {
      var out: [T] = []
      out.reserveCapacity(count)
      for t in 0..<count { out.append(try body(t)) }
      return out
    }
    let results = UnsafeMutableBufferPointer<Result<T, E>?>.allocate(capacity: count)
    results.initialize(repeating: nil)
    defer {
      _ = results.deinitialize()
      results.deallocate()
    }
    let claims = Claims()
    withoutActuallyEscaping(body) { body in
      // The closure and the slots cross to the workers: each slot is written by one thread, and
      // concurrentPerform returns after all have finished.
      let shared = Shared(body: body, results: results)
      // Tasks are claimed one at a time (their costs differ).
      DispatchQueue.concurrentPerform(iterations: workers) { _ in
        while true {
          let t = claims.next.wrappingAdd(1, ordering: .relaxed).oldValue
          if t >= count { return }
          if t > claims.failed.load(ordering: .relaxed) { continue }
          do throws(E) {
            shared.results[t] = .success(try shared.body(t))
          } catch {
            shared.results[t] = .failure(error)
            claims.fail(t)
          }
        }
      }
    }
    var out: [T] = []
    out.reserveCapacity(count)
    for t in 0..<count {
      switch results[t]! {
      case .success(let value): out.append(value)
      case .failure(let error): throw error
      }
    }
    return out
  }

  struct Shared<T, E: Error>: @unchecked Sendable {
    let body: (Int) throws(E) -> T
    let results: UnsafeMutableBufferPointer<Result<T, E>?>
  }

  final class Claims: Sendable {
    let next = Atomic<Int>(0)
    /// The lowest failed task (Int.max: none).
    let failed = Atomic<Int>(.max)

    func fail(_ t: Int) {
      var seen = failed.load(ordering: .relaxed)
      while t < seen {
        let (exchanged, original) = failed.compareExchange(expected: seen, desired: t, ordering: .relaxed)
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
  func eachTask<T, E: Error>(_ body: (Int) throws(E) -> T) throws(E) -> [T] {
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
