import BilevelFrontEnd
import Foundation

extension Elaborator {
  /// `data NAME[t]: TYPE = EXPR`: evaluated now, once per task, in a scratch
  /// graph; the program keeps only the values.
  mutating func elaborateData(
    name: Identifier, task: Identifier?, type: TypeExpr?, value: Expr,
    in model: ElaborationContext
  ) throws(Poisoned) {
    try checkTaskSuffix(task)
    let declaredShape = try type.map { (t) throws(Poisoned) in try typeShape(t, in: model) }
    let count = task != nil ? program.tasks!.count : 1
    var values: [Tensor] = []
    var recipes: [DataRecipe] = []
    foldsConstants = !options.keepsDataRecipes
    dimLinks.lastRead = nil
    defer { foldsConstants = false }
    for k in 0..<count {
      let saved = program.graph
      program.graph = Graph()
      program.graph.interned.reserveCapacity(16)
      defer { program.graph = saved }
      let context = ElaborationContext.data(
        name.name, task: task != nil ? .concrete(k) : .none, names: model.names)
      dataSources = [:]
      let v = try expression(value, in: context)
      if options.keepsDataRecipes {
        recipes.append(DataRecipe(graph: program.graph, root: v.node, sources: dataSources))
      }
      var t = try evaluateData(v.node)
      if let declaredShape, t.shape != declaredShape {
        // A one-column or one-row file fits a vector annotation.
        let fitsVector =
          declaredShape.isVector && t.shape.count == declaredShape.count && !t.shape.isScalar
        guard fitsVector else {
          if let type,
            let e = typedCSVMismatch(name.name, type: type, declared: declaredShape, value: value)
          {
            throw e
          }
          throw error(
            .typeMismatch(
              "data '\(name.name)'", declared: declaredShape.description,
              actual: t.shape.description), at: value.range)
        }
        t = Tensor(shape: declaredShape, scalars: t.scalars)
      }
      if let first = values.first, first.shape != t.shape {
        throw error(
          .taskShapeDiffers(
            name.name, task: k + 1, shape: t.shape.description, first: first.shape.description),
          at: value.range)
      }
      values.append(t)
    }
    program.data.append(
      DataEntry(
        name: name.name, shape: values[0].shape, values: values, perTask: task != nil,
        range: name.range, definition: value.range.text, recipes: recipes))
    let index = program.data.count - 1
    if let type {
      dimLinks.data[index] = ties(of: type, declaring: name.name)
    } else if task == nil {
      recordCSVData(index, value: value, shape: values[0].shape)
    }
    scope[name.name] = .data(index)
  }

  /// csv("..."), npy("..."), randn(...), rand(...): constant tensors.
  mutating func dataSource(
    _ callee: Identifier, _ args: [Expr], _ labeled: [String: Expr], at range: SourceRange,
    in context: ElaborationContext
  ) throws(Poisoned) -> Value {
    let tensor: Tensor
    let source: DataSource
    switch callee.name {
    case "csv", "npy":
      guard case .string(let raw) = args[0].kind else {
        throw error(.pathNotString(callee.name), at: args[0].range)
      }
      let path = try interpolateTask(raw, at: args[0].range, in: context)
      source = callee.name == "csv" ? .csv(path) : .npy(path)
      let directory = program.file.directory
      if let reason = options.refuseDataPath(path, directory) {
        throw error(.dataPathRefused(path, reason), at: args[0].range)
      }
      let resolved = path.hasPrefix("/") || directory == "." ? path : directory + "/" + path
      guard let bytes = options.readFile(resolved) else {
        throw error(.unreadableFile(resolved), at: args[0].range)
      }
      if callee.name == "csv" {
        switch CSVReader.readTable(SourceFile(path: resolved, bytes: bytes)) {
        case .success(let table):
          tensor = table.tensor
          dimLinks.lastRead = (path, table.tensor.shape)
          try checkCSVCounts(tensor.shape, of: path, labeled, in: context)
          if !program.csvFiles.contains(where: { $0.path == path }) {
            program.csvFiles.append(
              (path: path, delimiter: table.delimiter, shape: table.tensor.shape))
          }
        case .failure(var d):
          d.notes.append(.note(.whileLoading(context.placeName), at: args[0].range))
          diagnostics.append(d)
          throw Poisoned()
        }
      } else {
        switch NPYReader.read(bytes: bytes) {
        case .success(let t): tensor = t
        case .failure(let e): throw error(.badNPY(resolved, e.message), at: args[0].range)
        }
      }
      if tensor.shape.count > options.maximumTensorElements {
        throw error(
          .tooLarge(
            "'\(resolved)'", "\(tensor.shape.count)", limit: "\(options.maximumTensorElements)"),
          at: args[0].range)
      }
    default:
      let shape = try shape(args, at: range, in: context)
      guard let seedExpr = labeled["seed"] else { throw error(.needsSeed(callee.name), at: range) }
      let seed = try integer(seedExpr, what: "a seed", in: context)
      if seed < 0 { throw error(.negativeSeed(seed), at: seedExpr.range) }
      tensor =
        callee.name == "randn"
        ? RandomStream.normal(shape: shape, seed: UInt64(seed))
        : RandomStream.uniform(shape: shape, seed: UInt64(seed))
      source =
        callee.name == "randn"
        ? .normal(shape, seed: UInt64(seed)) : .uniform(shape, seed: UInt64(seed))
    }
    let node = program.graph.literal(tensor, at: range)
    if case .literal(let i) = program.graph[node].op { dataSources[i] = source }
    return Value(node: node, perTask: false)
  }

  /// `csv("x.csv", rows: n, columns: d)`: the file must have that many data
  /// rows (after any header) and columns; a one-column file has 1 column.
  mutating func checkCSVCounts(
    _ shape: Shape, of path: String, _ labeled: [String: Expr], in context: ElaborationContext
  ) throws(Poisoned) {
    let counts = [
      ("rows", shape.isVector ? shape.count : shape.rows),
      ("columns", shape.isVector ? 1 : shape.columns),
    ]
    for (label, actual) in counts {
      guard let e = labeled[label] else { continue }
      let expected = try integer(e, what: "a count of \(label)", in: context)
      if expected != actual {
        throw error(
          .csvCountMismatch(
            path, label: label, expression: e.range.text, expected: expected, actual: actual),
          at: e.range)
      }
    }
  }

  /// Replaces `{t}` in a path by the task number (per-task data only).
  mutating func interpolateTask(
    _ raw: String, at range: SourceRange, in context: ElaborationContext
  ) throws(Poisoned) -> String {
    guard let t = program.tasks?.index, raw.contains("{\(t)}") else {
      if raw.contains("{") && raw.contains("}") && program.tasks == nil {
        throw error(.taskPathOutsideTasks, at: range)
      }
      return raw
    }
    guard case .concrete(let k) = context.task else {
      throw error(.taskPathOutsideTasks, at: range)
    }
    return raw.replacingOccurrences(of: "{\(t)}", with: "\(k + 1)")
  }
}
