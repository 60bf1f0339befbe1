/// Every command-line option once: its name, its argument, what it does and
/// the commands it applies to. Parsing, the applicability check and `help`
/// read this table.
enum OptionTable {
  struct Option {
    let name: String
    /// What the argument is ("a file name"), nil for a flag.
    let argument: String?
    /// How help writes the argument: STAGE, FILE.
    var placeholder: String {
      argument.map { a in Option.placeholders.first { a.contains($0.0) }?.1 ?? "VALUE" } ?? ""
    }
    static let placeholders = [
      ("stage", "STAGE"), ("method", "METHOD"), ("inner solver", "SOLVER"),
      ("outer solver", "SOLVER"),
      ("NAME=VALUE", "NAME=VALUE"), ("megabytes", "MB"), ("seconds", "SECONDS"), ("folder", "DIR"),
      ("--json", "FILE.json"),
      (".svg", "FILE.svg"), ("file name", "FILE"),
    ]
    let summary: String
    /// "solve" (bilevelc FILE), "grad", "check", "explain", "emit", "repl".
    let commands: [String]
    var aliases: [String] = []
  }

  static let compiling = ["solve", "grad", "check", "explain", "emit"]

  static let all: [Option] = [
    Option(
      name: "--emit", argument: "a stage: ast, graph, grad, plan or jax",
      summary: "print one stage's output instead of running", commands: ["emit"]),
    Option(
      name: "--method", argument: "a method, as in 'implicit(cg, iters: 5)'",
      summary: "use this hypergradient method instead of the file's", commands: compiling),
    Option(
      name: "--all", argument: nil,
      summary: "check every applicable hypergradient method, not only the program's",
      commands: ["check"]),
    Option(
      name: "--inner", argument: "an inner solver, as in 'gd(lr: 0.1, steps: 50)'",
      summary: "use this inner solver instead of the file's", commands: compiling),
    Option(
      name: "--outer", argument: "an outer solver, as in 'adam(lr: 0.01, steps: 10)'",
      summary: "use this outer solver instead of the file's", commands: compiling),
    Option(
      name: "--set", argument: "NAME=VALUE",
      summary: "give a dim or a scalar data another value (repeatable)", commands: compiling),
    Option(
      name: "--unsafe-math", argument: nil,
      summary: "also apply rewrites that change IEEE results (x/x → 1, log(exp x) → x)",
      commands: compiling + ["repl"]),
    Option(
      name: "--timings", argument: nil,
      summary: "print the time each compiler stage took (standard error)", commands: compiling),
    Option(
      name: "--budget-mb", argument: "a positive number of megabytes",
      summary: "memory a hypergradient method may plan to use (default 1024)",
      commands: ["solve", "grad", "check", "explain"]),
    Option(
      name: "--budget-s", argument: "a positive number of seconds",
      summary:
        "time a run may be estimated to take before it starts (default 3600; the estimate is a lower bound)",
      commands: ["solve", "grad"]),
    Option(
      name: "--data-root", argument: "a folder name",
      summary:
        "data (csv, npy) may also be read under this folder; by default only under the program's own",
      commands: compiling + ["repl"]),
    Option(
      name: "--json", argument: "a file name",
      summary: "also write the result as JSON (keyed by variable name, schema_version 1)",
      commands: ["solve", "grad"]),
    Option(
      name: "--trace", argument: "a file name",
      summary:
        "also write one CSV row per outer step: loss, hypergradient norm, inner residual, norms, reports",
      commands: ["solve"]),
    Option(
      name: "--plot", argument: "a .svg file name",
      summary:
        "also draw the outer loss, hypergradient norm, inner residual and reports against the outer step as SVG",
      commands: ["solve"]),
    Option(
      name: "--trace-values", argument: nil,
      summary: "the trace also holds every outer entry, named A[2,3]", commands: ["solve"]),
    Option(
      name: "--save", argument: "a folder name",
      summary: "write every outer and solved inner variable as .npy, and result.json",
      commands: ["solve"]),
    Option(
      name: "--resume", argument: "a --json result",
      summary: "continue that run from its last outer step (optimiser state included)",
      commands: ["solve"]),
    Option(
      name: "--progress", argument: nil,
      summary: "print progress on standard error even when it is not a terminal",
      commands: ["solve", "check"]),
    Option(
      name: "--quiet", argument: nil, summary: "print no progress", commands: ["solve", "check"]),
    Option(
      name: "--help", argument: nil, summary: "this text (also 'bilevelc help')", commands: [],
      aliases: ["-h"]),
    Option(
      name: "--version", argument: nil, summary: "the version and the kernels' instruction set",
      commands: []),
  ]

  static func option(_ name: String) -> Option? {
    all.first { $0.name == name || $0.aliases.contains(name) }
  }

  static func command(_ action: CommandLineOptions.Action) -> String {
    switch action {
    case .run: return "solve"
    case .grad: return "grad"
    case .check: return "check"
    case .explain: return "explain"
    case .emit: return "emit"
    case .repl: return "repl"
    case .help, .version: return "help"
    }
  }
}
