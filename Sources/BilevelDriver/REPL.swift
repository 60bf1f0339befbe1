import BilevelCore
import BilevelFrontEnd

/// `bilevelc repl`: statements and expressions, one per line, from a
/// terminal or a pipe. An error is printed and the session goes on. Each
/// line goes through a file's stages (elaborate, simplify, differentiate),
/// so it shows what the same expression gives in a file.
struct REPL {
  let environment: Environment
  let options: CompileOptions
  var elaborator: Elaborator
  var lineNumber = 0
  /// Significant digits of printed values; nil (the default) prints every
  /// digit a round trip needs.
  var digits: Int? = nil
  /// The session's lets and defs in order (with the file a `:load` read them
  /// from): a derivative with respect to a let elaborates the later ones again.
  var definitions: [(statement: Statement, loaded: SourceFile?)] = []

  static let help = """
    Type a statement (dim, data, let, def, inner, outer) or an expression;
    inside brackets, a line ending in ',', '(' or '[' continues on the next.
    For an expression the REPL prints its type, its simplified form and its value;
    variables take their initial values.
      :type EXPR        the type only
      :simplify EXPR    the simplified form only
      :grad EXPR wrt x[, y]                 gradient of a scalar expression; x may be
                                            a constant let, taken as a variable
      :jvp EXPR wrt x[, y] along v[, u]     Jacobian-vector product (forward mode)
      :hvp EXPR wrt x[, y] along v[, u]     Hessian-vector product (forward over reverse)
      :digits N         print values with N significant digits (1 to 17)
      :digits           print every digit a round trip needs (the default)
      :load FILE        the dims, data, lets, defs and variables of a .blv file
      :help             this text
      :quit             leave (so does end of input)

    """

  init(environment: Environment, options: CompileOptions) {
    self.environment = environment
    var o = options
    o.allowRedefinition = true
    self.options = o
    elaborator = Elaborator(file: SourceFile(path: "<repl>", text: ""), options: o)
  }

  func out(_ s: String) { environment.standardOutput(s) }

  mutating func run() -> Int32 {
    if environment.isTerminal { out("bilevelc repl — :help for commands, :quit to leave\n") }
    while true {
      if environment.isTerminal { out("> ") }
      guard var line = environment.readLine() else { break }
      lineNumber += 1
      let first = lineNumber
      // Piped sessions echo their input so transcripts read as a dialogue.
      if !environment.isTerminal { out("> \(DiagnosticRenderer.escapingControls(line))\n") }
      // As in a file, a line break inside brackets need not end the input.
      while REPL.continues(line) {
        if environment.isTerminal { out(". ") }
        guard let more = environment.readLine() else { break }
        lineNumber += 1
        if !environment.isTerminal { out(". \(DiagnosticRenderer.escapingControls(more))\n") }
        line += "\n" + more
      }
      if !handle(line, firstLine: first) { break }
    }
    return 0
  }

  /// Whether input goes on to the next line: brackets are open and the
  /// line ends (before any comment) in ',', '(' or '['. A line ending
  /// otherwise is complete, so a missing ')' is reported at once instead of
  /// swallowing the lines that follow.
  static func continues(_ text: String) -> Bool {
    var depth = 0
    var last: UInt8 = 0
    var inString = false
    var inComment = false
    for c in text.utf8 {
      if inComment {
        if c == UInt8(ascii: "\n") { inComment = false }
      } else if inString {
        if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\n") { inString = false }
      } else {
        switch c {
        case UInt8(ascii: "\""): inString = true
        case UInt8(ascii: "#"): inComment = true
        case UInt8(ascii: "("), UInt8(ascii: "["): depth += 1
        case UInt8(ascii: ")"), UInt8(ascii: "]"): depth -= 1
        default: break
        }
        if !inComment && c != 32 && c != 9 && c != 13 && c != 10 { last = c }
      }
    }
    return depth > 0 && [UInt8(ascii: ","), UInt8(ascii: "("), UInt8(ascii: "[")].contains(last)
  }

  /// Returns false to end the session.
  mutating func handle(_ line: String, firstLine: Int) -> Bool {
    let trimmed = line.drop { $0 == " " || $0 == "\t" }
    if trimmed.isEmpty || trimmed.hasPrefix("#") { return true }
    let file = SourceFile(path: "<repl>", text: line, firstLine: firstLine)
    if trimmed.hasPrefix(":") {
      let command = String(trimmed.prefix { $0 != " " && $0 != "\t" })
      let offset = line.utf8.count - trimmed.utf8.count + command.utf8.count
      switch command {
      case ":quit", ":q": return false
      case ":help": out(REPL.help)
      case ":type", ":simplify":
        if line.utf8.dropFirst(offset).allSatisfy({ $0 == 32 || $0 == 9 }) {
          report([
            .error(
              .commandNeedsExpression(command), at: SourceRange(file: file, start: 0, end: offset))
          ])
        } else {
          evaluate(file, startingAt: offset, show: command == ":type" ? [.type] : [.simplified])
        }
      case ":grad", ":jvp", ":hvp":
        derivative(file, startingAt: offset, command: command)
      case ":digits":
        setDigits(file, startingAt: offset)
      case ":load":
        load(file, startingAt: offset, command: SourceRange(file: file, start: 0, end: offset))
      default:
        report([
          .error(.unknownREPLCommand(command), at: SourceRange(file: file, start: 0, end: offset))
        ])
      }
      return true
    }
    evaluate(file, startingAt: 0, show: [.type, .simplified, .value])
    return true
  }

  enum Part { case type, simplified, value }

  mutating func evaluate(_ file: SourceFile, startingAt offset: Int, show: [Part]) {
    let (input, syntax) = Parser.parseREPLLine(file, startingAt: offset)
    guard syntax.isEmpty, let input else { return report(syntax) }
    switch input {
    case .statement(let s):
      if show != [.type, .simplified, .value] {
        return report([.error(.commandNeedsExpression(":type"), at: s.keywordRange)])
      }
      statement(s)
    case .expression(let e):
      let node = elaborator.expressionNode(e)
      report(elaborator.takeDiagnostics())
      guard let node else { return }
      let simplified = Compilation.simplify(elaborator.program, keeping: [node], options: options)
      let (program, root) = (simplified.program, simplified.kept[0])
      if show.contains(.type) { out("type: \(program.graph.shape(root))\n") }
      if show.contains(.simplified) {
        out("simplified: \(indentContinuation(program.expressionPrinter().render(root)))\n")
      }
      if show.contains(.value) {
        let evaluation = ProgramEvaluation(initialPointOf: program)
        out("value: \(valueText(evaluation.evaluate(root)))\n")
        if let bad = evaluation.firstNonFinite(root) {
          report([
            .warning(
              Message(
                "\(program.expressionPrinter().render(bad, maximumLength: 120)) is not finite here"),
              at: program.graph.origin(bad))
          ])
        }
      }
    }
  }

  /// Elaborates and summarises a declaration; false after an error. A
  /// loaded file's statements read their data beside `loaded`.
  @discardableResult
  mutating func statement(_ s: Statement, from loaded: SourceFile? = nil) -> Bool {
    switch s.kind {
    case .loss, .fixpoint, .solve, .hypergradient, .tasks, .proxy:
      let what = s.keywordRange.text == "tasks" ? "'tasks'" : "this statement"
      report([.error(.notInREPL(what), at: s.keywordRange)])
      return false
    default: break
    }
    if let loaded {
      elaborator.statement(s, readingFilesBeside: loaded)
    } else {
      elaborator.statement(s)
    }
    let diagnostics = elaborator.takeDiagnostics()
    report(diagnostics)
    guard !diagnostics.contains(where: { $0.severity == .error }) else { return false }
    let p = elaborator.program
    switch s.kind {
    case .dims(let ds):
      for d in ds {
        if let v = p.dims.last(where: { $0.name == d.name.name }) {
          out("dim \(v.name) = \(v.value)\n")
        }
      }
    case .data(let name, _, _, _):
      if let d = p.data.last(where: { $0.name == name.name }) {
        out("data \(d.name): \(d.shape)\n")
      }
    case .variable(let level, let name, _, _, _, _):
      if let v = p.variables.last(where: { $0.name == name.name }) {
        out("\(level.rawValue) \(v.name): \(v.shape)\n")
      }
    case .letBinding(let name, _, _):
      definitions.append((s, loaded))
      if let l = p.lets.last(where: { $0.name == name.name }) {
        out("let \(l.name): \(p.graph.shape(l.node))\n")
      }
    case .function(let name, let parameters, _):
      definitions.append((s, loaded))
      out("def \(name.name)(\(parameters.map(\.name).joined(separator: ", ")))\n")
    default: break
    }
    return true
  }

  /// The text after a command, without surrounding blanks, and where it is.
  func argument(_ file: SourceFile, startingAt offset: Int) -> (text: String, range: SourceRange) {
    let isBlank: (UInt8) -> Bool = { $0 == 32 || $0 == 9 || $0 == 10 || $0 == 13 }
    let start = file.bytes[offset...].firstIndex { !isBlank($0) } ?? file.bytes.count
    let end = (file.bytes[start...].lastIndex { !isBlank($0) }).map { $0 + 1 } ?? start
    return (
      String(decoding: file.bytes[start..<end], as: UTF8.self),
      SourceRange(file: file, start: start, end: end)
    )
  }

  mutating func setDigits(_ file: SourceFile, startingAt offset: Int) {
    let (argument, range) = argument(file, startingAt: offset)
    if argument.isEmpty {
      digits = nil
      return out("digits: round trip\n")
    }
    guard let n = Int(argument), (1...17).contains(n) else {
      return report([.error(.digitsArgument(argument), at: range)])
    }
    digits = n
    out("digits: \(n)\n")
  }

  func valueText(_ t: Tensor) -> String {
    let digits = self.digits
    return ValueFormatting.text(t) { formatValue($0, significantDigits: digits) }
  }

  func report(_ diagnostics: [Diagnostic]) {
    if !diagnostics.isEmpty { environment.standardError(DiagnosticRenderer.render(diagnostics)) }
  }

  func indentContinuation(_ s: String) -> String {
    s.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n  ")
  }
}
