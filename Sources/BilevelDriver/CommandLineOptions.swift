import BilevelCore
import BilevelFrontEnd

/// The parsed command line. Options are values handed down; no stage reads
/// the environment.
struct CommandLineOptions {
  enum Action: Equatable { case help, version, repl, run, check, explain, emit(Emit) }
  enum Emit: String, CaseIterable { case ast, graph, grad, plan, jax }

  var action: Action = .run
  var file: String? = nil
  var unsafeMath = false
  var timings = false
  /// Memory a hypergradient method may plan to use (auto's budget_mb overrides it).
  var budgetMB: Double? = nil
  /// Where a run writes its result as JSON, and its outer steps as CSV.
  var jsonPath: String? = nil
  var tracePath: String? = nil

  struct UsageError: Error { let message: String }

  static let usageLine = "usage: bilevelc [check | explain] FILE | bilevelc --emit ast|graph|grad|plan|jax FILE | bilevelc repl | --help | --version"

  static let help = """
    bilevelc — a compiler for gradient-based bilevel optimisation programs (.blv)

    usage:
      bilevelc FILE                 compile FILE and solve it: the outer solver's steps, each with a hypergradient
      bilevelc check FILE           check every hypergradient method against central differences of the bilevel map
      bilevelc explain FILE         show the problem's sizes and what each hypergradient method costs
      bilevelc --emit ast FILE      print the syntax tree
      bilevelc --emit graph FILE    print the checked, simplified expression graph
      bilevelc --emit grad FILE     print the derivative graphs the solvers use (gradients, Hessian-vector and mixed products)
      bilevelc --emit plan FILE     print the execution plan of the losses and those products: instructions, memory, costs
      bilevelc --emit jax FILE      print a self-contained Python module (jax, numpy) that solves the same program
      bilevelc repl                 read statements and expressions from standard input
      bilevelc --help | --version

    options:
      --emit ast|graph|grad|plan|jax  print one stage's output instead of running
      --unsafe-math                 also apply rewrites that change IEEE results (x/x → 1, log(exp x) → x)
      --timings                     print the time each compiler stage took (to standard error)
      --budget-mb N                 memory a hypergradient method may plan to use (default 1024)
      --json FILE                   also write the run's result as JSON (bilevelc FILE)
      --trace FILE                  also write one CSV row per outer step: loss, hypergradient norm, inner residual, φ

    Diagnostics go to standard error as file:line:col: error: message; results go to standard output.
    Exit status: 0 success, 1 errors in the program, 2 a usage error.

    """

  static func parse(_ args: [String]) -> Result<CommandLineOptions, UsageError> {
    var o = CommandLineOptions()
    var positional: [String] = []
    var i = 0
    while i < args.count {
      let a = args[i]
      switch a {
      case "--help", "-h": return .success(CommandLineOptions(action: .help))
      case "--version": return .success(CommandLineOptions(action: .version))
      case "--unsafe-math": o.unsafeMath = true
      case "--timings": o.timings = true
      case "--json", "--trace":
        guard i + 1 < args.count, !args[i + 1].hasPrefix("-") else { return .failure(UsageError(message: "\(a) needs a file name")) }
        if a == "--json" { o.jsonPath = args[i + 1] } else { o.tracePath = args[i + 1] }
        i += 1
      case "--budget-mb":
        guard i + 1 < args.count, let mb = Double(args[i + 1]), mb > 0 else {
          return .failure(UsageError(message: "--budget-mb needs a positive number of megabytes"))
        }
        o.budgetMB = mb
        i += 1
      case "--emit":
        guard i + 1 < args.count else { return .failure(UsageError(message: "--emit needs a stage: ast, graph, grad, plan or jax")) }
        guard let e = Emit(rawValue: args[i + 1]) else {
          return .failure(UsageError(message: "unknown stage '\(args[i + 1])' for --emit; expected ast, graph, grad, plan or jax"))
        }
        o.action = .emit(e)
        i += 1
      default:
        if a.hasPrefix("-") && a != "-" { return .failure(UsageError(message: "unknown option '\(a)'")) }
        positional.append(a)
      }
      i += 1
    }
    if positional.first == "repl" {
      guard positional.count == 1, o.action == .run else { return .failure(UsageError(message: "'repl' takes no file or --emit")) }
      o.action = .repl
      return .success(o)
    }
    if let verb = positional.first, verb == "check" || verb == "explain" {
      guard o.action == .run else { return .failure(UsageError(message: "--emit cannot be combined with '\(verb)'")) }
      o.action = verb == "check" ? .check : .explain
      positional.removeFirst()
    }
    guard positional.count == 1 else {
      return .failure(UsageError(message: positional.isEmpty ? "no input file" : "expected one input file, given \(positional.count)"))
    }
    o.file = positional[0]
    return .success(o)
  }

  func compileOptions(_ env: Environment) -> CompileOptions {
    var c = CompileOptions()
    c.unsafeMath = unsafeMath
    let directory = env.currentDirectory
    c.readFile = { path in
      let full = path.hasPrefix("/") || directory == "." ? path : directory + "/" + path
      return FileContents.read(full)
    }
    return c
  }
}
