import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// One unit of parallel work: called once per part with the caller's
/// context. A C function pointer (a closure literal that captures nothing)
/// so that dispatching allocates no closure context.
public typealias KernelJob = @convention(c) (UnsafeRawPointer, Int) -> Void

/// A persistent pool of `workerCount` threads that run the parts of one job
/// alongside the calling thread.
///
/// Why this shape: the solvers call the same kernels thousands of times, so
/// a dispatch must not allocate, retain or create threads. The pool is a
/// struct of raw pointers made once; workers spin briefly after each job
/// (back-to-back products then start in well under a microsecond) and
/// then park on a condition variable so an idle process costs no CPU.
/// One caller at a time: a concurrent caller finds the pool busy and runs
/// every part itself, which gives the same bits because the kernels make
/// each output independent of the thread that computes it.
public struct KernelThreadPool: @unchecked Sendable {
  struct Slot {
    var job: KernelJob?
    var context: UnsafeRawPointer?
    var parts: Int
  }

  let generation: UnsafeMutablePointer<Atomic<Int>>
  let remaining: UnsafeMutablePointer<Atomic<Int>>
  let busy: UnsafeMutablePointer<Atomic<Bool>>
  let slot: UnsafeMutablePointer<Slot>
  let mutex: UnsafeMutablePointer<pthread_mutex_t>
  let wake: UnsafeMutablePointer<pthread_cond_t>
  /// Threads besides the caller.
  public let workerCount: Int

  /// The process-wide pool: one worker per online core besides the caller.
  public static let shared = KernelThreadPool(workers: KernelThreadPool.onlineCores - 1)

  /// Online cores (at least 1).
  public static var onlineCores: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

  /// Threads a kernel may use: the caller plus the workers.
  public var threadCount: Int { workerCount + 1 }

  /// Iterations a worker polls for the next job before parking; about
  /// 50–100 µs on current x86 cores, longer than the gap between the
  /// products of one plan evaluation.
  static let spinLimit = 200_000

  init(workers: Int) {
    workerCount = max(0, workers)
    generation = .allocate(capacity: 1)
    generation.initialize(to: Atomic(0))
    remaining = .allocate(capacity: 1)
    remaining.initialize(to: Atomic(0))
    busy = .allocate(capacity: 1)
    busy.initialize(to: Atomic(false))
    slot = .allocate(capacity: 1)
    slot.initialize(to: Slot(job: nil, context: nil, parts: 0))
    mutex = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
    wake = .allocate(capacity: 1)
    pthread_cond_init(wake, nil)
    for w in 0..<workerCount {
      let pool = self
      let thread = Thread { pool.workerLoop(part: w + 1) }
      thread.name = "bilevelc-kernel-\(w + 1)"
      thread.start()
    }
  }

  /// Runs `job(context, p)` for every `p` in `0..<parts` and returns when all
  /// have finished. Part 0 (and any part beyond the workers) runs on the
  /// calling thread. `context` must stay valid until the call returns.
  public func run(parts: Int, context: UnsafeRawPointer, job: KernelJob) {
    if parts <= 0 { return }
    if parts == 1 || workerCount == 0
      || !busy.pointee.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    {
      for p in 0..<parts { job(context, p) }
      return
    }
    slot.pointee = Slot(job: job, context: context, parts: parts)
    // Every worker wakes and reports, even one without a part, so the
    // completion count does not depend on the part count.
    remaining.pointee.store(workerCount, ordering: .relaxed)
    pthread_mutex_lock(mutex)
    generation.pointee.wrappingAdd(1, ordering: .releasing)
    pthread_cond_broadcast(wake)
    pthread_mutex_unlock(mutex)

    job(context, 0)
    var p = workerCount + 1
    while p < parts {
      job(context, p)
      p += 1
    }
    var spins = 0
    while remaining.pointee.load(ordering: .acquiring) != 0 {
      spins += 1
      if spins > 1000 { sched_yield() }
    }
    busy.pointee.store(false, ordering: .releasing)
  }

  private func workerLoop(part: Int) {
    var seen = 0
    while true {
      var current = generation.pointee.load(ordering: .acquiring)
      var spins = 0
      while current == seen && spins < Self.spinLimit {
        spins += 1
        current = generation.pointee.load(ordering: .acquiring)
      }
      if current == seen {
        pthread_mutex_lock(mutex)
        while generation.pointee.load(ordering: .acquiring) == seen {
          pthread_cond_wait(wake, mutex)
        }
        pthread_mutex_unlock(mutex)
        current = generation.pointee.load(ordering: .acquiring)
      }
      seen = current
      let s = slot.pointee
      if part < s.parts, let job = s.job, let context = s.context {
        job(context, part)
      }
      remaining.pointee.subtract(1, ordering: .releasing)
    }
  }
}
