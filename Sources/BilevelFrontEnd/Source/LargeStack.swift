import Foundation
import Synchronization

/// Runs work on a thread with a 512 MB stack and waits for it. The parser
/// and the elaborator recurse to their depth limits; deep input must be an
/// error, never a stack overflow, on any calling thread (test threads and
/// cooperative threads have small stacks).
public enum LargeStack {
  public static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
      let value = body()
      box.value.withLock { $0 = value }
      done.signal()
    }
    thread.stackSize = 512 << 20
    thread.start()
    done.wait()
    return box.value.withLock { $0! }
  }
}

/// Carries the result out of the thread (the semaphore says when it is there).
private final class ResultBox<T: Sendable>: Sendable {
  let value = Mutex<T?>(nil)
}
