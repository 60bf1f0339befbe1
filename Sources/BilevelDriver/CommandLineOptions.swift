import BilevelCore
import BilevelFrontEnd

/// The parsed command line. Options are values handed down; no stage reads
/// the environment. Each option is declared once in `OptionTable` with the
/// actions it applies to; one given to a command that would ignore it is a
/// usage error.
struct CommandLineOptions {
  enum Action: Equatable {
    case help(String?), version, repl, run, grad, check, explain, emit(Emit)
  }
  enum Emit: String, CaseIterable { case ast, graph, grad, plan, jax }

  var action: Action = .run
  var file: String? = nil
  var unsafeMath = false
  var timings = false
  /// Memory a hypergradient method may plan to use (auto's budget_mb overrides it).
  var budgetMB: Double? = nil
  /// Time a run may be estimated to take, in seconds (TimeBudget).
  var budgetSeconds: Double? = nil
  /// A folder data may also be read from, beside the program's (DataPaths).
  var dataRoot: String? = nil
  /// Where a run writes its result as JSON, and its outer steps as CSV.
  var jsonPath: String? = nil
  var tracePath: String? = nil
  var plotPath: String? = nil
  /// The trace also holds every φ entry (`A[2,3]`), not only per-variable norms.
  var traceValues = false
  /// A folder for every variable as .npy (with the JSON result).
  var saveDirectory: String? = nil
  /// A `--json` result to continue from its last outer step.
  var resumePath: String? = nil
  enum ProgressMode { case automatic, forced, quiet }
  var progress = ProgressMode.automatic
  /// `check --all`: every applicable method, not only the program's.
  var checkAll = false
  var overrides = Overrides()

  struct UsageError: Error { let message: String }

  /// The verbs, in the order help lists them; a file alone means solve it.
  static let verbs = ["grad", "check", "explain", "repl", "help"]

  static let usageLine =
    "usage: bilevelc [grad | check | explain] [OPTIONS] FILE | bilevelc --emit ast|graph|grad|plan|jax FILE | bilevelc repl | bilevelc help | --version"

  /// The option names given, for the applicability check.
  var given: [String] = []

  static let topics = Reference.Topic.allCases.map(\.rawValue).joined(separator: ", ")

  static func parse(_ args: [String]) -> Result<CommandLineOptions, UsageError> {
    var o = CommandLineOptions()
    var positional: [String] = []
    var i = 0
    func value(_ a: String, _ what: String) -> Result<String, UsageError> {
      guard i + 1 < args.count, !args[i + 1].hasPrefix("--") else {
        return .failure(UsageError(message: "\(a) needs \(what)"))
      }
      i += 1
      return .success(args[i])
    }
    while i < args.count {
      let a = args[i]
      guard a.hasPrefix("-") && a != "-" else {
        positional.append(a)
        i += 1
        continue
      }
      guard let option = OptionTable.option(a) else {
        let hint = Suggestions.hint(for: a, among: OptionTable.all.map(\.name))
        return .failure(UsageError(message: "unknown option '\(a)'\(hint)"))
      }
      if a == "--help" || a == "-h" { return .success(CommandLineOptions(action: .help(nil))) }
      if a == "--version" { return .success(CommandLineOptions(action: .version)) }
      o.given.append(option.name)
      var argument: String? = nil
      if let what = option.argument {
        switch value(a, what) {
        case .success(let v): argument = v
        case .failure(let e): return .failure(e)
        }
      }
      if let e = o.set(option.name, argument) { return .failure(e) }
      i += 1
    }
    if let verb = positional.first, verb == "help" {
      guard positional.count <= 2 else {
        return .failure(UsageError(message: "'help' takes at most one topic"))
      }
      let topic = positional.dropFirst().first
      if let topic, HelpText.topics[topic] == nil {
        return .failure(UsageError(message: "unknown help topic '\(topic)'; expected \(topics)"))
      }
      return .success(CommandLineOptions(action: .help(topic)))
    }
    if positional.first == "repl" {
      guard positional.count == 1 else {
        return .failure(UsageError(message: "'repl' takes no file"))
      }
      o.action = .repl
      return o.checkApplicable().map { .failure($0) } ?? .success(o)
    }
    if let verb = positional.first, ["grad", "check", "explain"].contains(verb),
      positional.count > 1 || o.action == .run
    {
      guard o.action == .run else {
        return .failure(UsageError(message: "--emit cannot be combined with '\(verb)'"))
      }
      o.action = verb == "grad" ? .grad : verb == "check" ? .check : .explain
      positional.removeFirst()
    } else if positional.count > 1, let verb = positional.first,
      !verb.contains(".") && !verb.contains("/")
    {
      return .failure(
        UsageError(
          message:
            "unknown command '\(verb)'; the commands are \(verbs.joined(separator: ", ")), or a file alone to solve it"
        ))
    }
    guard positional.count == 1 else {
      return .failure(
        UsageError(
          message: positional.isEmpty
            ? "no input file" : "expected one input file, given \(positional.count)"))
    }
    o.file = positional[0]
    return o.checkApplicable().map { .failure($0) } ?? .success(o)
  }

  /// Stores one option's value; nil when it is well-formed.
  mutating func set(_ name: String, _ argument: String?) -> UsageError? {
    let v = argument ?? ""
    switch name {
    case "--unsafe-math": unsafeMath = true
    case "--timings": timings = true
    case "--json": jsonPath = v
    case "--trace": tracePath = v
    case "--plot":
      guard v.lowercased().hasSuffix(".svg") else {
        return UsageError(message: "--plot writes SVG; give a file name ending in .svg, not '\(v)'")
      }
      plotPath = v
    case "--trace-values": traceValues = true
    case "--save": saveDirectory = v
    case "--resume": resumePath = v
    case "--progress": progress = .forced
    case "--quiet": progress = .quiet
    case "--all": checkAll = true
    case "--method": overrides.method = v
    case "--inner": overrides.inner = v
    case "--outer": overrides.outer = v
    case "--set": overrides.sets.append(v)
    case "--budget-mb":
      guard let mb = Double(v), mb > 0, mb.isFinite else {
        return UsageError(
          message: "--budget-mb needs a positive, finite number of megabytes, not '\(v)'")
      }
      budgetMB = mb
    case "--budget-s":
      guard let s = Double(v), s > 0, s.isFinite else {
        return UsageError(
          message: "--budget-s needs a positive, finite number of seconds, not '\(v)'")
      }
      budgetSeconds = s
    case "--data-root": dataRoot = v
    case "--emit":
      guard let e = Emit(rawValue: v) else {
        return UsageError(
          message:
            "unknown stage '\(v)' for --emit; expected \(Emit.allCases.map(\.rawValue).joined(separator: ", "))"
        )
      }
      action = .emit(e)
    default: preconditionFailure("an option in OptionTable without a setter: \(name)")
    }
    if given.filter({ $0 == name }).count > 1 && name != "--set" {
      return UsageError(message: "\(name) is given twice")
    }
    if progress == .forced && given.contains("--quiet")
      || progress == .quiet && given.contains("--progress")
    {
      return UsageError(message: "--progress and --quiet contradict each other")
    }
    return nil
  }

  /// Every given option must apply to the action.
  func checkApplicable() -> UsageError? {
    let command = OptionTable.command(action)
    for name in given where name != "--emit" {
      guard let option = OptionTable.option(name), !option.commands.contains(command) else {
        continue
      }
      let users = option.commands.map { $0 == "solve" ? "bilevelc FILE" : "bilevelc \($0)" }.joined(
        separator: ", ")
      return UsageError(
        message:
          "\(name) does not apply to \(command == "solve" ? "solving a file" : "'\(command)'"); it is for \(users)"
      )
    }
    if traceValues && tracePath == nil && jsonPath == nil && saveDirectory == nil {
      return UsageError(
        message: "--trace-values needs --trace, --json or --save to write the values into")
    }
    return nil
  }

  /// `dataPaths` remembers the data files read (outputs may not overwrite them).
  func compileOptions(_ env: Environment, dataPaths: DataPaths? = nil) -> CompileOptions {
    var c = CompileOptions()
    let paths = dataPaths ?? DataPaths(workingDirectory: env.currentDirectory, root: dataRoot)
    c.refuseDataPath = { path, folder in paths.refusal(path, programDirectory: folder) }
    c.unsafeMath = unsafeMath
    c.keepsDataRecipes = action == .emit(.jax)
    let directory = env.currentDirectory
    c.readFile = { path in
      let full = path.hasPrefix("/") || directory == "." ? path : directory + "/" + path
      return FileContents.read(full)
    }
    return c
  }
}
