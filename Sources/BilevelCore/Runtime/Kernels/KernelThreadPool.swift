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
/// struct of raw pointers made once. Parts are claimed, not assigned: the
/// caller and any awake worker take the next part from one atomic ticket,
/// so a worker that is descheduled (a busy machine) only means the caller
/// runs more parts itself; it never waits for a thread that has not
/// started. Workers spin briefly after each job (back-to-back products
/// then start within a microsecond) and then park on a condition variable,
/// so an idle process costs no CPU. One caller at a time: a concurrent
/// caller finds the pool busy and runs every part itself, which gives the
/// same bits because the kernels make each output independent of the
/// thread that computes it.
// Unchecked: raw pointers to atomics and a pthread mutex/condition, shared with the workers by design.
public struct KernelThreadPool: @unchecked Sendable {
  /// `generation << partBits | next unclaimed part`. A worker claims a part
  /// by compare-and-swap on the whole word, so a claim can only succeed
  /// while the job it read from the slot is still the current one.
  let ticket: UnsafeMutablePointer<Atomic<UInt64>>
  let finished: UnsafeMutablePointer<Atomic<Int>>
  let jobBits: UnsafeMutablePointer<Atomic<UInt>>
  let contextBits: UnsafeMutablePointer<Atomic<UInt>>
  let partCount: UnsafeMutablePointer<Atomic<Int>>
  let busy: UnsafeMutablePointer<Atomic<Bool>>
  let mutex: UnsafeMutablePointer<pthread_mutex_t>
  let wake: UnsafeMutablePointer<pthread_cond_t>
  /// Threads besides the caller.
  public let workerCount: Int

  static let partBits: UInt64 = 16
  static let partMask: UInt64 = (1 << partBits) - 1
  /// Most parts one job may have (the ticket's part field must not overflow).
  public static let maxParts = 4096

  /// The process-wide pool: one worker per online core besides the caller.
  public static let shared = KernelThreadPool(workers: KernelThreadPool.onlineCores - 1)

  /// Online cores (at least 1).
  public static var onlineCores: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

  /// Threads a kernel may use: the caller plus the workers.
  public var threadCount: Int { workerCount + 1 }

  /// Polls a worker makes for the next job before parking: tens of
  /// microseconds, longer than the gap between the products of one plan
  /// evaluation.
  static let spinLimit = 100_000

  init(workers: Int) {
    workerCount = max(0, workers)
    ticket = .allocate(capacity: 1)
    ticket.initialize(to: Atomic(0))
    finished = .allocate(capacity: 1)
    finished.initialize(to: Atomic(0))
    jobBits = .allocate(capacity: 1)
    jobBits.initialize(to: Atomic(0))
    contextBits = .allocate(capacity: 1)
    contextBits.initialize(to: Atomic(0))
    partCount = .allocate(capacity: 1)
    partCount.initialize(to: Atomic(0))
    busy = .allocate(capacity: 1)
    busy.initialize(to: Atomic(false))
    mutex = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
    wake = .allocate(capacity: 1)
    pthread_cond_init(wake, nil)
    for w in 0..<workerCount {
      let pool = self
      let thread = Thread { pool.workerLoop() }
      thread.name = "bilevelc-kernel-\(w + 1)"
      thread.start()
    }
  }

  /// Runs `job(context, p)` for every `p` in `0..<parts` (at most
  /// `maxParts`) and returns when all have finished. `context` must stay
  /// valid until the call returns.
  public func run(parts: Int, context: UnsafeRawPointer, job: KernelJob) {
    if parts <= 0 { return }
    precondition(parts <= Self.maxParts, "too many parts for one job")
    if parts == 1 || workerCount == 0
      || !busy.pointee.compareExchange(expected: false, desired: true, ordering: .acquiring)
        .exchanged
    {
      for p in 0..<parts { job(context, p) }
      return
    }
    let generation = (ticket.pointee.load(ordering: .relaxed) >> Self.partBits) &+ 1
    jobBits.pointee.store(unsafeBitCast(job, to: UInt.self), ordering: .relaxed)
    contextBits.pointee.store(UInt(bitPattern: context), ordering: .relaxed)
    partCount.pointee.store(parts, ordering: .relaxed)
    finished.pointee.store(0, ordering: .relaxed)
    pthread_mutex_lock(mutex)
    ticket.pointee.store(generation << Self.partBits, ordering: .releasing)
    pthread_cond_broadcast(wake)
    pthread_mutex_unlock(mutex)

    // Claim parts like any worker; overshooting by one past `parts` is
    // harmless (workers only claim below `parts`).
    while true {
      let p = Int(
        ticket.pointee.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue & Self.partMask)
      if p >= parts { break }
      job(context, p)
      finished.pointee.wrappingAdd(1, ordering: .releasing)
    }
    var spins = 0
    while finished.pointee.load(ordering: .acquiring) < parts {
      spins += 1
      if spins > 1000 { sched_yield() }
    }
    busy.pointee.store(false, ordering: .releasing)
  }

  private func workerLoop() {
    var seen: UInt64 = 0
    while true {
      // Poll, yielding the core every few polls: on an idle core the yield
      // returns at once, and on a busy machine this thread then does not
      // use up its time slice spinning and get preempted in the middle of a
      // part, which would leave the caller waiting for it.
      var spins = 0
      while ticket.pointee.load(ordering: .acquiring) >> Self.partBits == seen
        && spins < Self.spinLimit
      {
        spins += 1
        if spins & 63 == 0 { sched_yield() }
      }
      if ticket.pointee.load(ordering: .acquiring) >> Self.partBits == seen {
        pthread_mutex_lock(mutex)
        while ticket.pointee.load(ordering: .acquiring) >> Self.partBits == seen {
          pthread_cond_wait(wake, mutex)
        }
        pthread_mutex_unlock(mutex)
      }
      seen = ticket.pointee.load(ordering: .acquiring) >> Self.partBits
      claimParts(of: seen)
    }
  }

  /// Claims and runs parts of job `generation` until none are left or a
  /// newer job has replaced it.
  private func claimParts(of generation: UInt64) {
    while true {
      let t = ticket.pointee.load(ordering: .acquiring)
      if t >> Self.partBits != generation { return }
      let p = Int(t & Self.partMask)
      let parts = partCount.pointee.load(ordering: .relaxed)
      if p >= parts { return }
      let job = unsafeBitCast(jobBits.pointee.load(ordering: .relaxed), to: KernelJob.self)
      let context = UnsafeRawPointer(bitPattern: contextBits.pointee.load(ordering: .relaxed))
      // Succeeds only if the ticket is unchanged: then the job is still
      // running (part p is unfinished), so the slot read above is its own.
      guard
        ticket.pointee.compareExchange(
          expected: t, desired: t + 1, ordering: .acquiringAndReleasing
        ).exchanged
      else { continue }
      if let context { job(context, p) }
      finished.pointee.wrappingAdd(1, ordering: .releasing)
    }
  }
}
