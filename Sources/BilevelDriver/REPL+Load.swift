import BilevelCore
import BilevelFrontEnd

/// `:load FILE`: a program file's declarations join the session, so its
/// names can be used; its losses and solver statements are left out, and
/// its data files are read beside it, as when the file compiles.
extension REPL {
  mutating func load(_ file: SourceFile, startingAt offset: Int, command: SourceRange) {
    let (path, range) = argument(file, startingAt: offset)
    guard !path.isEmpty else { return report([.error(.commandNeedsFile(":load"), at: command)]) }
    guard let bytes = options.readFile(path) else {
      return report([.error(.unreadableFile(path), at: range)])
    }
    let loaded = SourceFile(path: path, bytes: bytes)
    let (source, syntax) = Parser.parse(loaded)
    guard syntax.isEmpty else { return report(syntax) }
    var elaborated = 0
    for s in source.statements {
      switch s.kind {
      case .loss, .fixpoint, .solve, .hypergradient, .report, .proxy: continue
      default:
        // Later statements would only repeat the failure as undefined names.
        guard statement(s, from: loaded) else { return }
        elaborated += 1
      }
    }
    out("loaded \(path): \(elaborated) statement\(elaborated == 1 ? "" : "s")\n")
  }
}
