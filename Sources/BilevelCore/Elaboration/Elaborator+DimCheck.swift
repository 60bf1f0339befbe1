import BilevelFrontEnd

/// A CSV file's size checked against the declared dims the program gives it.
///
/// The rule: an axis of a value is *tied* to a dim when a type writes that
/// dim's name for it (`inner w: vector[d]`, `data X: matrix[n, d]`), and the
/// tie follows the value through `'`, elementwise operations and `@`. When an
/// untyped `data X = csv(...)` meets a tied axis in `@` or an elementwise
/// operation and the file's size along it differs, the error is the file's:
/// it is reported at the csv call with the file's rows and columns and the
/// dim with its value, not as a shape error at the use.
struct DimLinks {
  /// A dim written for one axis of a declared value.
  struct Tie {
    let dim: String
    let value: Int
    /// The declaration that wrote it, as in `w: vector[d]`.
    let declaredBy: String
  }

  /// The ties of a value's axes; a vector has only `rows`.
  struct Axes {
    var rows: Tie?
    var columns: Tie?
    var swapped: Axes { Axes(rows: columns, columns: rows) }
  }

  /// Where an untyped data entry was read: the file and its size.
  struct CSVOrigin {
    let path: String
    let fileRows: Int
    let fileColumns: Int
    let call: SourceRange
  }

  var variables: [Int: Axes] = [:]
  var data: [Int: Axes] = [:]
  var csv: [Int: CSVOrigin] = [:]
  /// The last file a `csv(...)` call read (path and size), for the data line.
  var lastRead: (path: String, shape: Shape)?
}

extension Elaborator {
  /// The ties a type writes: a size that is exactly a declared dim's name.
  func ties(of type: TypeExpr, declaring name: String) -> DimLinks.Axes {
    var found: [DimLinks.Tie?] = []
    for size in type.sizes {
      if case .name(let n) = size.kind, case .dim(let v)? = scope[n] {
        found.append(
          DimLinks.Tie(dim: n, value: v, declaredBy: "\(name): \(type.range.text)"))
      } else {
        found.append(nil)
      }
    }
    return DimLinks.Axes(
      rows: found.first ?? nil, columns: found.count > 1 ? found[1] : nil)
  }

  /// Records an untyped data entry read by `csv(...)` (the data line's value is the call).
  mutating func recordCSVData(_ index: Int, value: Expr, shape: Shape) {
    guard case .call(let callee, _) = value.kind, callee.name == "csv",
      let read = dimLinks.lastRead
    else { return }
    dimLinks.csv[index] = DimLinks.CSVOrigin(
      path: read.path, fileRows: read.shape.rows, fileColumns: read.shape.columns,
      call: value.range)
  }

  /// `data X: matrix[n, d] = csv(...)` whose file is another size: the file's
  /// rows and columns and the first dim (or size) it misses.
  mutating func typedCSVMismatch(
    _ name: String, type: TypeExpr, declared: Shape, value: Expr
  ) -> Poisoned? {
    guard case .call(let callee, _) = value.kind, callee.name == "csv",
      let read = dimLinks.lastRead
    else { return nil }
    let tie = ties(of: type, declaring: name)
    let file = read.shape
    var wanted: [(rows: Bool, size: Int, tie: DimLinks.Tie?)] = [(true, declared.rows, tie.rows)]
    if declared.isMatrix { wanted.append((false, declared.columns, tie.columns)) }
    if declared.isVector && file.rows == 1 && file.columns != 1 {
      wanted = [(false, declared.rows, tie.rows)]  // a one-row file fits a vector too
    } else if declared.isVector {
      wanted.append((false, 1, nil))
    }
    for w in wanted {
      let actual = w.rows ? file.rows : file.columns
      guard actual != w.size else { continue }
      let needs = w.tie.map { "\($0.dim) = \($0.value)" } ?? "\(w.size)"
      return error(
        .csvDimMismatch(
          read.path, rows: file.rows, columns: file.columns, use: "\(name): \(type.range.text)",
          needs: needs, axis: w.rows ? "rows" : "columns", size: w.size), at: value.range)
    }
    return nil
  }

  /// The dims tied to `node`'s axes (see `DimLinks`).
  func axisTies(of node: NodeID, depth: Int = 0) -> DimLinks.Axes {
    let none = DimLinks.Axes()
    guard depth < 64 else { return none }
    let n = program.graph[node]
    func of(_ i: Int) -> DimLinks.Axes { axisTies(of: n.inputs[i], depth: depth + 1) }
    switch n.op {
    case .variable(let i): return dimLinks.variables[i] ?? none
    case .data(let i): return dimLinks.data[i] ?? none
    case .transpose: return program.graph.shape(n.inputs[0]).isMatrix ? of(0).swapped : of(0)
    case .unary: return of(0)
    case .binary:
      let (a, b) = (of(0), of(1))
      let (sa, sb) = (program.graph.shape(n.inputs[0]), program.graph.shape(n.inputs[1]))
      if sa.rank == sb.rank {
        return DimLinks.Axes(rows: a.rows ?? b.rows, columns: a.columns ?? b.columns)
      }
      // A vector meets a matrix along its columns; a scalar adds no ties.
      let (m, v, sv) = sa.rank > sb.rank ? (a, b, sb) : (b, a, sa)
      return DimLinks.Axes(rows: m.rows, columns: m.columns ?? (sv.isVector ? v.rows : nil))
    case .matmul(false, false):
      let (l, r) = (of(0), of(1))
      let (sl, sr) = (program.graph.shape(n.inputs[0]), program.graph.shape(n.inputs[1]))
      switch (sl.isMatrix, sr.isMatrix) {
      case (true, true): return DimLinks.Axes(rows: l.rows, columns: r.columns)
      case (true, false): return DimLinks.Axes(rows: l.rows)
      case (false, true): return DimLinks.Axes(rows: r.columns)
      case (false, false): return none
      }
    default: return none
    }
  }

  /// An untyped CSV entry (maybe transposed) among `op`'s inputs whose size
  /// along an axis the other input ties to a dim is not that dim: the file's error.
  /// With `ifIllShaped`, only when `op`'s shape rule refuses the inputs.
  mutating func blameCSVFile(
    _ op: Op, _ inputs: [Value], ifIllShaped declared: Shape?? = nil, at use: SourceRange
  ) -> Poisoned? {
    guard !dimLinks.csv.isEmpty, inputs.count == 2 else { return nil }
    switch op {
    case .binary, .matmul(false, false): break
    default: return nil
    }
    if let declared,
      (try? op.resultShape(inputs.map { program.graph.shape($0.node) }, declared: declared)) != nil
    {
      return nil
    }
    for (k, value) in inputs.enumerated() {
      var node = program.graph[value.node]
      var transposed = false
      if case .transpose = node.op, program.graph.shape(node.inputs[0]).isMatrix {
        node = program.graph[node.inputs[0]]
        transposed = true
      }
      guard case .data(let i) = node.op, let origin = dimLinks.csv[i] else { continue }
      let other = inputs[1 - k].node
      let (ties, os) = (axisTies(of: other), program.graph.shape(other))
      let cs = program.graph.shape(value.node)
      // What the other input needs of the file's value, axis by axis (rows: true).
      var needs: [(rows: Bool, tie: DimLinks.Tie?)] = []
      switch op {
      case .matmul:
        needs =
          k == 0 ? [(!cs.isMatrix, ties.rows)] : [(true, os.isMatrix ? ties.columns : ties.rows)]
      default:
        switch (cs.rank, os.rank) {
        case (2, 2): needs = [(true, ties.rows), (false, ties.columns)]
        case (2, 1): needs = [(false, ties.rows)]
        case (1, 2): needs = [(true, ties.columns)]
        case (1, 1): needs = [(true, ties.rows)]
        default: break
        }
      }
      for case (let rows, let tie?) in needs {
        guard (rows ? cs.rows : cs.columns) != tie.value else { continue }
        let fileRows = rows != transposed
        // One error for the file: its other uses stay quiet.
        scope[program.data[i].name] = .poisoned
        dimLinks.csv[i] = nil
        return error(
          .csvDimMismatch(
            origin.path, rows: origin.fileRows, columns: origin.fileColumns,
            use: "'\(use.text)'", needs: "\(tie.dim) = \(tie.value)",
            axis: fileRows ? "rows" : "columns", size: tie.value),
          at: origin.call,
          notes: [.note(.csvDimUse(tie.declaredBy), at: use)])
      }
    }
    return nil
  }
}
