import Foundation
import Synchronization

/// SIGINT and SIGTERM during a run: the handler only records the signal;
/// the run stops at the end of its current outer step and still writes its
/// summary and files (exit status 128 + the signal: 130, 143).
enum Interrupts {
  static let received = Atomic<Int32>(0)

  static var signal: Int32 { received.load(ordering: .relaxed) }

  static func install() {
    // A parent may have spawned us with them blocked (the mask is inherited).
    var unblock = sigset_t()
    sigemptyset(&unblock)
    sigaddset(&unblock, SIGINT)
    sigaddset(&unblock, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    for s in [SIGINT, SIGTERM] {
      var action = sigaction()
      action.__sigaction_handler.sa_handler = { s in
        Interrupts.received.store(s, ordering: .relaxed)
      }
      action.sa_flags = SA_RESTART
      sigemptyset(&action.sa_mask)
      sigaction(s, &action, nil)
    }
  }

  static func name(_ s: Int32) -> String {
    s == SIGINT ? "SIGINT" : s == SIGTERM ? "SIGTERM" : "signal \(s)"
  }
}
