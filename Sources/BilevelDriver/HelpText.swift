/// `bilevelc help`: the commands and the options (from OptionTable).
/// `help TOPIC` looks a topic up in `topics`; a reference topic (functions,
/// solvers) is one entry there.
enum HelpText {
  static let commands: [(usage: String, summary: String)] = [
    (
      "bilevelc FILE",
      "compile FILE and solve it: the outer solver's steps, each with a hypergradient"
    ),
    (
      "bilevelc grad FILE",
      "the outer loss and hypergradient at the initial point alone (one evaluation)"
    ),
    (
      "bilevelc check FILE",
      "check every hypergradient method against central differences of the bilevel map"
    ),
    ("bilevelc explain FILE", "show the problem's sizes and what each hypergradient method costs"),
    ("bilevelc --emit ast FILE", "print the syntax tree"),
    ("bilevelc --emit graph FILE", "print the checked, simplified expression graph"),
    (
      "bilevelc --emit grad FILE",
      "print the derivative graphs the solvers use (gradients, Hessian-vector and mixed products)"
    ),
    (
      "bilevelc --emit plan FILE",
      "print the execution plan of the losses and those products: instructions, memory, costs"
    ),
    (
      "bilevelc --emit jax FILE",
      "print a self-contained Python module (jax, numpy) that solves the same program"
    ),
    ("bilevelc repl", "read statements and expressions from standard input"),
    ("bilevelc help [TOPIC]", "this text, or one topic"),
  ]

  /// Further topics by name: each a function giving its text (the language reference's parts).
  static let topics: [String: @Sendable () -> String] = Dictionary(
    uniqueKeysWithValues: Reference.Topic.allCases.map {
      topic -> (String, @Sendable () -> String) in
      (topic.rawValue, { @Sendable in Reference.text(topic) })
    })

  static func text() -> String {
    var out =
      "bilevelc — a compiler for gradient-based bilevel optimisation programs (.blv)\n\nusage:\n"
    let width =
      (commands.map(\.usage.count)
      + OptionTable.all.map { $0.name.count + $0.placeholder.count + 1 }).max()! + 2
    func pad(_ s: String) -> String { s + String(repeating: " ", count: max(1, width - s.count)) }
    for c in commands { out += "  \(pad(c.usage))\(c.summary)\n" }
    out += "\noptions:\n"
    for o in OptionTable.all {
      let name = o.name + (o.argument == nil ? "" : " " + o.placeholder)
      let scope =
        o.commands.isEmpty
        ? "" : " [" + o.commands.map { $0 == "solve" ? "FILE" : $0 }.joined(separator: ", ") + "]"
      out += "  \(pad(name))\(o.summary)\(scope)\n"
    }
    out +=
      "\ntopics: \(CommandLineOptions.topics) (bilevelc help TOPIC: the language reference, grammar/REFERENCE.md)\n"
    out += """

      An option given to a command it does not apply to is refused.
      Diagnostics go to standard error as file:line:col: error: message; results go to standard output.
      Exit status: 0 success, 1 an error in the program or a numerical fault (or a failed write), 2 a usage error (a missing input file or a refused output path included), 130 or 143 a run stopped by SIGINT or SIGTERM after its last complete outer step (its outputs written, the JSON marked "interrupted").
      Output files are checked before any work and written atomically; a symbolic link, FIFO, device or directory, the program or its data, and one path named twice are refused.

      """
    return out
  }
}
