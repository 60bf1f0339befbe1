import Foundation
import Synchronization

/// The process's standard streams, written with write(2) and every result
/// checked: a closed or full standard output is an error message (on
/// standard error while it works) and a non-zero exit, never a trap or a
/// SIGPIPE death.
enum ProcessStreams {
  struct State {
    /// Why descriptor 1 or 2 no longer takes writes (nil: it does).
    var failure: [Int32: String] = [:]
    /// Descriptors that were closed when the process started.
    var closed: Set<Int32> = []
  }
  static let state = Mutex(State())

  static func name(_ fd: Int32) -> String { fd == 1 ? "standard output" : "standard error" }

  /// Before anything else: SIGPIPE becomes EPIPE, and a closed descriptor
  /// 0, 1 or 2 gets /dev/null in its place, so no file the run opens takes
  /// its number (and writes to a closed stream are refused, not redirected).
  static func prepare() {
    signal(SIGPIPE, SIG_IGN)
    // SIGINT and SIGTERM act even when a parent spawned us with them blocked.
    var unblock = sigset_t()
    sigemptyset(&unblock)
    sigaddset(&unblock, SIGINT)
    sigaddset(&unblock, SIGTERM)
    sigprocmask(SIG_UNBLOCK, &unblock, nil)
    for fd in Int32(0)...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
      let null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)
      if null >= 0 && null != fd {
        dup2(null, fd)
        close(null)
      }
      if fd > 0 { state.withLock { _ = $0.closed.insert(fd) } }
    }
  }

  static func write(_ fd: Int32, _ text: String) {
    let (failed, closed) = state.withLock { ($0.failure[fd] != nil, $0.closed.contains(fd)) }
    if failed || text.isEmpty { return }
    let error = closed ? "it is closed" : Descriptor.writeAll(fd, Array(text.utf8))
    guard let error else { return }
    state.withLock { $0.failure[fd] = error }
    if fd == 1 { report(1) }
  }

  /// Says once, on standard error, why standard output failed.
  static func report(_ fd: Int32) {
    let (reason, stderrWorks) = state.withLock { ($0.failure[fd], $0.failure[2] == nil) }
    guard let reason, stderrWorks else { return }
    _ = Descriptor.writeAll(
      2, Array("bilevelc: error: cannot write to \(name(fd)): \(reason)\n".utf8))
  }

  /// The exit status once the command is done: a stream that failed makes
  /// a success a failure (1).
  static func finish(_ status: Int32) -> Int32 {
    state.withLock { $0.failure.isEmpty } || status != 0 ? status : 1
  }
}
