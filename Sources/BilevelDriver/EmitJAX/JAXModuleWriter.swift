import BilevelCore
import BilevelFrontEnd
import BilevelSolvers

/// `bilevelc --emit jax FILE`: one self-contained Python module (jax and
/// numpy only) that loads the same data, states the losses, runs the same
/// inner solver, hypergradient method and outer solver, and prints the
/// same summary. JAXPrelude holds the program-independent runtime; this
/// writes the program's part.
struct JAXModuleWriter {
  let program: Program
  let method: HypergradientMethod
  let title: String
  let header: String
  var literals = Set<Int>()

  init(program: Program, method: HypergradientMethod, title: String, header: String) {
    self.program = program
    self.method = method
    self.title = title
    self.header = header
  }

  mutating func write() throws(JAXRefusal) -> String {
    try JAXSupport.check(program, method)
    var out = "\"\"\"\(title), compiled by bilevelc --emit jax.\n\n"
    out +=
      "python3 MODULE.py               solve, and print bilevelc's summary (--json FILE: its JSON too)\n"
    out += "python3 MODULE.py --grad        the outer loss and hypergradient at the initial point\n"
    out +=
      "python3 MODULE.py --devices N   spread the tasks over N devices (default: all local devices)\n"
    out += "Data files are read relative to --data-dir (default: this module's folder).\n\"\"\"\n"
    out += JAXPrelude.head + JAXPrelude.solves + JAXPrelude.runtime
    let functions = try programFunctions()
    let data = try dataLoader()
    out +=
      "\n\n# ---- the program: \(title) ----\n\n" + settings() + literalTable() + data + functions
    out +=
      try JAXMethodBlocks.solver(program, fileName: fileName)
      + JAXMethodBlocks.method(method, program)
    out +=
      "\n\nHYPERGRADIENT = jax.jit(hypergradient)\n\nif __name__ == \"__main__\":\n    sys.exit(main())\n"
    return out
  }

  var fileName: String {
    program.file.path.split(separator: "/").last.map(String.init) ?? program.file.path
  }

  func settings() -> String {
    let outer = program.variables(.outer).map { program.variables[$0] }
    let inner = program.variables(.inner).map { program.variables[$0] }
    func list(_ vs: [Variable]) -> String {
      "[" + vs.map { "(\(py($0.name)), \(JAXOpTable.tuple($0.shape)))" }.joined(separator: ", ")
        + "]"
    }
    var s = "PROGRAM = \(py(title))\n"
    s += "HEADER = \(py(header))\n"
    s += "TASKS = \(program.tasks.map { "\($0.count)" } ?? "None")\n"
    s += "OUTER = \(list(outer))\n"
    s += "INNER = \(list(inner))\n"
    s +=
      "THETA_TASK_AXES = {"
      + inner.map { "\(py($0.name)): \($0.perTask ? "0" : "None")" }.joined(separator: ", ") + "}\n"
    s +=
      "DATA_TASK_AXES = {"
      + program.data.map { "\(py($0.name)): \($0.perTask ? "0" : "None")" }.joined(separator: ", ")
      + "}\n"
    s += "METHOD = \(py(program.isSingleLevel ? "first_order" : method.description))\n"
    s += "SINGLE_LEVEL = \(program.isSingleLevel ? "True" : "False")\n"
    s += "FIXPOINT = \(program.innerFixpoint != nil ? "True" : "False")\n"
    s +=
      "LINEAR_METHOD = \(JAXMethodBlocks.linearMethod(method, fixpoint: program.innerFixpoint != nil).map(py) ?? "None")\n"
    switch program.outerSolver?.spec {
    case .gd(let lr, let steps)?:
      s += "OUTER_SOLVER = dict(kind=\"gd\", lr=\(JAXOpTable.number(lr)), steps=\(steps))\n"
    case .adam(let lr, let m, let steps)?:
      s +=
        "OUTER_SOLVER = dict(kind=\"adam\", lr=\(JAXOpTable.number(lr)), steps=\(steps), beta1=\(JAXOpTable.number(m.beta1)), "
        + "beta2=\(JAXOpTable.number(m.beta2)), eps=\(JAXOpTable.number(m.eps)))\n"
    case nil: s += "OUTER_SOLVER = None\n"
    }
    return s + "BOUNDS = None\n\n"
  }

  func literalTable() -> String {
    literals.sorted().map { "LITERAL_\($0) = \(Self.array(program.graph.literals[$0]))\n" }.joined()
      + (literals.isEmpty ? "" : "\n")
  }

  static func array(_ t: Tensor) -> String {
    "jnp.asarray(np.array([\(t.scalars.map(JAXOpTable.number).joined(separator: ", "))], dtype=np.float64).reshape(\(JAXOpTable.tuple(t.shape))))"
      .replacingOccurrences(of: "jnp.nan", with: "np.nan").replacingOccurrences(
        of: "jnp.inf", with: "np.inf")
  }

  /// `file.blv:12: inner loss = ...`, for the comment above a function.
  func place(_ range: SourceRange?) -> String {
    guard let r = range else { return fileName }
    let (line, _) = r.file.lineAndColumn(of: r.start)
    let text = r.text.split(separator: "\n").first.map(String.init) ?? ""
    return "\(fileName):\(line): \(text)"
  }

  // MARK: Data

  func dataLoader() throws(JAXRefusal) -> String {
    var s =
      "def load_data(data_dir):\n    \"\"\"The data, computed as bilevelc computes them at compile time.\"\"\"\n    data = {}\n"
    for entry in program.data {
      let (line, _) = entry.range.file.lineAndColumn(of: entry.range.start)
      s +=
        "    # \(fileName):\(line): data \(entry.name)\(entry.perTask ? "[\(program.tasks!.index)]" : "") = \(entry.definition.split(separator: "\n").first ?? "")\n"
      guard !entry.recipes.isEmpty else {
        s += "    data[\(py(entry.name))] = jnp.arange(1.0, \(entry.values.count).0 + 1.0)\n"
        continue
      }
      var parts: [String] = []
      for (k, recipe) in entry.recipes.enumerated() {
        var w = JAXFunctionWriter(graph: recipe.graph) {
          (node: Node) throws(JAXRefusal) -> String in
          switch node.op {
          case .data(let i): return "data[\(py(program.data[i].name))]"
          case .literal(let i):
            switch recipe.sources[i] {
            case .csv(let path)?: return "csv(data_dir, \(py(path)))"
            case .npy(let path)?: return "npy(data_dir, \(py(path)))"
            case .uniform(let shape, let seed)?:
              return "rand(\(JAXOpTable.tuple(shape)), seed=\(seed))"
            case .normal(let shape, let seed)?:
              return "randn(\(JAXOpTable.tuple(shape)), seed=\(seed))"
            case .entry(let j, let task)?: return "data[\(py(program.data[j].name))][\(task)]"
            case nil: return Self.array(recipe.graph.literals[i])
            }
          default:
            throw JAXRefusal(
              message: "--emit jax: data '\(entry.name)' reads a value that is not data",
              range: entry.range)
          }
        }
        let result = try w.write([recipe.root], indent: "    ")
        s += w.lines.joined(separator: "\n") + (w.lines.isEmpty ? "" : "\n")
        let value = "jnp.reshape(\(result[0]), \(JAXOpTable.tuple(entry.shape)))"
        if entry.perTask {
          if k == 0 { s += "    parts = []\n" }
          s += "    parts.append(\(value))  # task \(k + 1)\n"
          parts.append(value)
        } else {
          s += "    data[\(py(entry.name))] = \(value)\n"
        }
      }
      if entry.perTask { s += "    data[\(py(entry.name))] = jnp.stack(parts)\n" }
    }
    return s + "    return data\n\n\n"
  }

  // MARK: Losses and settings

  mutating func programFunctions() throws(JAXRefusal) -> String {
    var s = ""
    let outer = program.variables(.outer)
    let inner = program.variables(.inner)
    s += try function(
      "initial_outer", "data", "the outer variables' initial values",
      roots: outer.map { program.variables[$0].initial }, origin: nil, dict: outer)
    let bounded = outer.filter { program.variables[$0].bounds != nil }
    s +=
      "def outer_bounds(data):\n    \"\"\"The box of the outer variables (per entry), or None.\"\"\"\n"
    if bounded.isEmpty {
      s += "    return None\n\n\n"
    } else {
      let roots = bounded.flatMap {
        [program.variables[$0].bounds!.lower, program.variables[$0].bounds!.upper]
      }
      var w = writer()
      let values = try w.write(roots, indent: "    ")
      s += w.lines.joined(separator: "\n") + (w.lines.isEmpty ? "" : "\n")
      var lower: [String] = []
      var upper: [String] = []
      for i in outer {
        let v = program.variables[i]
        let shape = JAXOpTable.tuple(v.shape)
        if let k = bounded.firstIndex(of: i) {
          lower.append("np.broadcast_to(np.asarray(\(values[2 * k])), \(shape)).ravel()")
          upper.append("np.broadcast_to(np.asarray(\(values[2 * k + 1])), \(shape)).ravel()")
        } else {
          lower.append("np.full(\(v.shape.count), -np.inf)")
          upper.append("np.full(\(v.shape.count), np.inf)")
        }
      }
      s +=
        "    return np.concatenate([\(lower.joined(separator: ", "))]), np.concatenate([\(upper.joined(separator: ", "))])\n\n\n"
    }
    if !program.isSingleLevel {
      s += try function(
        "initial_inner", "phi, data", "one task's inner variables at the start of the inner solve",
        roots: inner.map { program.variables[$0].initial }, origin: nil, dict: inner)
    }
    if let l = program.innerLoss {
      s += try function(
        "inner_loss", "theta, phi, data", "L_in for one task", roots: [l],
        origin: program.innerLossRange)
    }
    if let f = program.innerFixpoint {
      s += try function(
        "fixpoint_map", "theta, phi, data", "E(z, phi) for one task", roots: [f.map],
        origin: f.range)
    }
    if let l = program.outerLoss {
      s += try function(
        "outer_loss", "theta, phi, data", "L_out, over every task's theta", roots: [l],
        origin: program.outerLossRange)
    }
    if let solver = program.innerSolver {
      switch solver.spec {
      case .gd(let lr, _), .adam(let lr, _, _):
        s += try function(
          "inner_lr", "phi, data", "the inner solver's learning rate", roots: [lr],
          origin: solver.range)
      case .momentum(let lr, let mu, _):
        s += try function(
          "inner_lr", "phi, data", "the inner solver's learning rate", roots: [lr],
          origin: solver.range)
        s += try function(
          "inner_momentum", "phi, data", "the inner solver's momentum", roots: [mu],
          origin: solver.range)
      case .rule(let update, _):
        s += try function(
          "rule_update", "theta, phi, data, grad",
          "the learned update θ ← θ + update (grad = ∇θ L_in)",
          roots: [update], origin: solver.range)
      case .newton, .fixpoint, .flow: break
      }
    }
    return s
  }

  func writer() -> JAXFunctionWriter {
    var names: [NodeID: String] = [:]
    for l in program.lets where names[l.node] == nil {
      if let n = JAXFunctionWriter.pythonName(l.name) { names[l.node] = n }
    }
    let p = program
    return JAXFunctionWriter(graph: program.graph, letNames: names) {
      (node: Node) throws(JAXRefusal) -> String in
      switch node.op {
      case .variable(let i):
        let v = p.variables[i]
        return v.level == .inner ? "theta[\(py(v.name))]" : "phi[\(py(v.name))]"
      case .data(let i): return "data[\(py(p.data[i].name))]"
      case .input(let k) where k == p.ruleGradientInput: return "grad"
      case .literal(let i): return "LITERAL_\(i)"
      default:
        throw JAXRefusal(
          message: "--emit jax: the program reads a value supplied at evaluation time", range: nil)
      }
    }
  }

  /// `def NAME(PARAMS):` returning the roots (a dict of variables when `dict` is given).
  mutating func function(
    _ name: String, _ params: String, _ doc: String, roots: [NodeID], origin: SourceRange?,
    dict: [Int]? = nil
  ) throws(JAXRefusal) -> String {
    var w = writer()
    let values = try w.write(roots, indent: "    ")
    for id in program.graph.reachable(from: roots) {
      if case .literal(let i) = program.graph[id].op { literals.insert(i) }
    }
    var s = "def \(name)(\(params)):\n    \"\"\"\(doc).\"\"\"\n"
    if origin != nil { s += "    # \(place(origin))\n" }
    s += w.lines.joined(separator: "\n") + (w.lines.isEmpty ? "" : "\n")
    if let vars = dict {
      s +=
        "    return {"
        + zip(vars, values).map {
          "\(py(program.variables[$0].name)): jnp.broadcast_to(\($1), \(JAXOpTable.tuple(program.variables[$0].shape)))"
        }
        .joined(separator: ", ") + "}\n\n\n"
    } else {
      s += "    return \(values[0])\n\n\n"
    }
    return s
  }
}

/// A Python string literal.
func py(_ s: String) -> String {
  var out = "\""
  for c in s.unicodeScalars {
    switch c {
    case "\\": out += "\\\\"
    case "\"": out += "\\\""
    case "\n": out += "\\n"
    case "\t": out += "\\t"
    default: out.unicodeScalars.append(c)
    }
  }
  return out + "\""
}
