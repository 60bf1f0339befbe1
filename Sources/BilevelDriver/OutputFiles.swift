import Foundation

/// A file a command will write: the option that names it and its path as
/// given (messages quote it) and resolved.
struct OutputTarget {
  let option: String
  let path: String
  let full: String
  /// `--save`'s files when its folder is yet to be created.
  var folderMayBeMissing = false
}

/// Every file bilevelc writes goes through here. The targets are checked
/// before any work starts; each file is written into a temporary file in the
/// target's folder and renamed over the target, so a reader never sees half
/// a file and a failed run leaves the old one.
enum OutputFiles {
  /// What an existing path is, by lstat (a symbolic link is not followed).
  enum Kind: Equatable {
    case regular(mode: mode_t), directory, symbolicLink, fifo, device, socket

    var isRegular: Bool {
      if case .regular = self { return true }
      return false
    }

    var name: String {
      switch self {
      case .regular: return "a regular file"
      case .directory: return "a directory"
      case .symbolicLink: return "a symbolic link"
      case .fifo: return "a FIFO"
      case .device: return "a device"
      case .socket: return "a socket"
      }
    }
  }

  static func kind(_ full: String) -> Kind? {
    var s = stat()
    guard lstat(full, &s) == 0 else { return nil }
    return kind(mode: s.st_mode)
  }

  static func kind(mode: mode_t) -> Kind {
    switch mode & S_IFMT {
    case S_IFREG: return .regular(mode: mode & 0o7777)
    case S_IFDIR: return .directory
    case S_IFLNK: return .symbolicLink
    case S_IFIFO: return .fifo
    case S_IFSOCK: return .socket
    default: return .device
    }
  }

  /// An absolute path's components with `.`, `..` and repeated slashes folded.
  static func folded(_ full: String) -> [Substring] {
    var parts: [Substring] = []
    for part in full.split(separator: "/", omittingEmptySubsequences: true) {
      if part == "." { continue }
      if part == ".." {
        if !parts.isEmpty { parts.removeLast() }
        continue
      }
      parts.append(part)
    }
    return parts
  }

  static func lexical(_ full: String) -> String { "/" + folded(full).joined(separator: "/") }

  /// Whether `path` is `root` or lies under it (both folded or both canonical).
  static func isInside(_ path: String, _ root: String) -> Bool {
    path == root || path.hasPrefix(root.hasSuffix("/") ? root : root + "/")
  }

  /// A path folded, then its deepest existing folder resolved through
  /// symbolic links: two spellings of one place compare equal.
  static func canonical(_ full: String) -> String {
    var parts = folded(full)
    var rest: [Substring] = []
    while true {
      let head = "/" + parts.joined(separator: "/")
      if let real = realpath(head, nil) {
        defer { free(real) }
        let base = String(cString: real)
        return rest.isEmpty ? base : (base == "/" ? "" : base) + "/" + rest.joined(separator: "/")
      }
      guard let last = parts.popLast() else { return "/" + rest.joined(separator: "/") }
      rest.insert(last, at: 0)
    }
  }

  static func canonicalIsFolder(_ path: String) -> Bool {
    var s = stat()
    return stat(path, &s) == 0 && s.st_mode & S_IFMT == S_IFDIR
  }

  /// The same file (one inode), for existing paths.
  static func sameFile(_ a: String, _ b: String) -> Bool {
    var x = stat()
    var y = stat()
    guard stat(a, &x) == 0, stat(b, &y) == 0 else { return false }
    return x.st_dev == y.st_dev && x.st_ino == y.st_ino
  }

  /// Why the targets cannot be written (nil: they can): a target that is
  /// not a regular file, lies in a missing or unwritable folder, is one of
  /// `inputs` (what it is, and its full path), or is named twice.
  static func refusal(
    _ targets: [OutputTarget], inputs: [(what: String, full: String)]
  ) -> String? {
    var seen: [(target: OutputTarget, canonical: String)] = []
    for t in targets {
      if let k = kind(t.full), !k.isRegular {
        return
          "\(t.option) '\(t.path)' is \(k.name); bilevelc writes only regular files and will not replace \(k.name)"
      }
      let folder = (t.full as NSString).deletingLastPathComponent
      let place = folder.isEmpty ? "/" : folder
      var s = stat()
      if t.folderMayBeMissing && stat(place, &s) != 0 {
        seen.append((t, canonical(t.full)))
        continue
      }
      guard stat(place, &s) == 0 else {
        return "cannot write \(t.option) '\(t.path)': its folder '\(place)' does not exist"
      }
      guard s.st_mode & S_IFMT == S_IFDIR else {
        return "cannot write \(t.option) '\(t.path)': '\(place)' is not a folder"
      }
      guard access(place, W_OK) == 0 else {
        return "cannot write \(t.option) '\(t.path)': its folder '\(place)' is not writable"
      }
      let c = canonical(t.full)
      for input in inputs where c == canonical(input.full) || sameFile(t.full, input.full) {
        return "\(t.option) '\(t.path)' is \(input.what); bilevelc will not write over it"
      }
      if let other = seen.first(where: { $0.canonical == c || sameFile($0.target.full, t.full) }) {
        let both =
          other.target.option == t.option
          ? "\(t.option) writes '\(t.path)' twice"
          : "\(other.target.option) and \(t.option) both name '\(t.path)'"
        return "\(both); give each output its own file"
      }
      seen.append((t, c))
    }
    return nil
  }

  /// The permission bits a new file gets: 0666 less the umask, read once.
  static let newFileMode: mode_t = {
    let mask = umask(0)
    umask(mask)
    return 0o666 & ~mask
  }()

  /// Writes `bytes` to the target atomically; the error message, or nil.
  static func write(_ bytes: [UInt8], to target: OutputTarget) -> String? {
    switch OutputFile.open(target) {
    case .failure(let e): return e.message
    case .success(let file):
      if let e = file.append(bytes) {
        file.discard()
        return e
      }
      return file.commit()
    }
  }
}

struct OutputError: Error { let message: String }

/// A file being written: a temporary file beside the target, renamed over
/// it by `commit` (keeping an existing file's mode). `--trace` appends a row
/// per outer step; every other output writes once.
final class OutputFile {
  let target: OutputTarget
  let temporary: String
  private var descriptor: Int32

  private init(target: OutputTarget, temporary: String, descriptor: Int32) {
    self.target = target
    self.temporary = temporary
    self.descriptor = descriptor
  }

  static func open(_ target: OutputTarget) -> Result<OutputFile, OutputError> {
    let existing = OutputFiles.kind(target.full)
    var mode = OutputFiles.newFileMode
    switch existing {
    case nil: break
    case .regular(let m)?: mode = m
    case let k?:
      return .failure(
        OutputError(
          message:
            "\(target.option) '\(target.path)' is \(k.name); bilevelc writes only regular files and will not replace \(k.name)"
        ))
    }
    let folder = (target.full as NSString).deletingLastPathComponent
    let name = (target.full as NSString).lastPathComponent
    var template = Array(
      ((folder.isEmpty ? "" : folder + "/") + "." + name + ".XXXXXX").utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else {
      return .failure(OutputError(message: "cannot write \(target.path): \(errnoText())"))
    }
    let temporary = String(cString: template)
    guard fchmod(fd, mode) == 0 else {
      let e = errnoText()
      close(fd)
      unlink(temporary)
      return .failure(OutputError(message: "cannot write \(target.path): \(e)"))
    }
    return .success(OutputFile(target: target, temporary: temporary, descriptor: fd))
  }

  /// Appends; the error message, or nil. Each call reaches the file (no buffer).
  func append(_ bytes: [UInt8]) -> String? {
    guard descriptor >= 0 else { return "cannot write \(target.path): already closed" }
    if let e = Descriptor.writeAll(descriptor, bytes) {
      return "cannot write \(target.path): \(e)"
    }
    return nil
  }

  func append(_ text: String) -> String? { append(Array(text.utf8)) }

  /// Closes and renames over the target; the error message, or nil.
  func commit() -> String? {
    let fd = descriptor
    descriptor = -1
    if close(fd) != 0 {
      let e = errnoText()
      unlink(temporary)
      return "cannot write \(target.path): \(e)"
    }
    // The target may have changed since the check: never replace what is not a regular file.
    if let k = OutputFiles.kind(target.full), !k.isRegular {
      unlink(temporary)
      return
        "\(target.option) '\(target.path)' became \(k.name) during the run; not replaced (bilevelc writes only regular files)"
    }
    guard rename(temporary, target.full) == 0 else {
      let e = errnoText()
      unlink(temporary)
      return "cannot write \(target.path): \(e)"
    }
    return nil
  }

  /// Removes the temporary file; the target is left as it was.
  func discard() {
    if descriptor >= 0 { close(descriptor) }
    descriptor = -1
    unlink(temporary)
  }

  deinit { if descriptor >= 0 { discard() } }
}

func errnoText() -> String { String(cString: strerror(errno)) }

/// write(2) with every result checked: partial writes continue, EINTR retries.
enum Descriptor {
  /// nil when every byte was written; else what went wrong.
  static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> String? {
    bytes.withUnsafeBytes { buffer -> String? in
      var offset = 0
      while offset < buffer.count {
        let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
        if n < 0 {
          if errno == EINTR { continue }
          return errnoText()
        }
        if n == 0 { return "the write made no progress" }
        offset += n
      }
      return nil
    }
  }
}
