import BilevelFrontEnd

extension Elaborator {
  mutating func call(
    _ callee: Identifier, _ args: [Argument], at range: SourceRange,
    in context: ElaborationContext
  ) throws(Poisoned) -> Value {
    switch context.names[callee.name] {
    case .function(let f)?: return try inline(f, args, at: range, in: context)
    case .poisoned?: throw Poisoned()
    case .some: throw error(.notAFunction(callee.name, "a value"), at: callee.range)
    case nil: break
    }
    if context.callStack.contains(callee.name) {
      throw error(.recursiveFunction(callee.name), at: callee.range)
    }
    guard let signature = Builtins.signature(callee.name) else {
      throw undefined(callee.name, at: callee.range, function: true, in: context)
    }
    let positional = args.filter { $0.label == nil }.map(\.value)
    var labeled: [String: Expr] = [:]
    for a in args {
      guard let label = a.label else { continue }
      guard signature.labels.contains(label.name) else {
        throw error(
          .unknownArgumentLabel(
            label.name, function: callee.name,
            hint: Suggestions.hint(for: label.name, among: signature.labels)), at: label.range)
      }
      if labeled[label.name] != nil {
        throw error(.duplicateSetting(label.name, solver: callee.name), at: label.range)
      }
      labeled[label.name] = a.value
    }
    if !signature.positional.contains(positional.count) {
      let p = signature.positional
      let expected =
        p.lowerBound == p.upperBound
        ? "\(p.lowerBound) argument\(p.lowerBound == 1 ? "" : "s")"
        : "\(p.lowerBound) to \(p.upperBound) arguments"
      throw error(.argumentCount(callee.name, expected: expected, got: positional.count), at: range)
    }
    if signature.dataOnly {
      if !context.allowsDataSources {
        throw error(.dataOnlyFunction(callee.name), at: callee.range)
      }
      return try dataSource(callee, positional, labeled, at: range, in: context)
    }
    return try builtin(callee.name, positional, labeled, at: range, in: context)
  }

  mutating func inline(
    _ f: FunctionDefinition, _ args: [Argument], at range: SourceRange,
    in context: ElaborationContext
  ) throws(Poisoned) -> Value {
    if let labeled = args.first(where: { $0.label != nil }) {
      throw error(.labeledArgumentToDef(f.name), at: labeled.label!.range)
    }
    if args.count != f.parameters.count {
      let n = f.parameters.count
      throw error(
        .argumentCount(f.name, expected: "\(n) argument\(n == 1 ? "" : "s")", got: args.count),
        at: range)
    }
    if context.callStack.count >= 64 { throw error(.callsTooDeep, at: range) }
    inlinedCalls += 1
    if inlinedCalls > Elaborator.maximumInlinedCalls {
      throw error(.tooManyInlinedCalls(Elaborator.maximumInlinedCalls), at: range)
    }
    var values: [Value] = []
    for a in args { values.append(try expression(a.value, in: context)) }
    let before = diagnostics.count
    do {
      return try expression(f.body, in: context.inlining(f, arguments: values))
    } catch {
      // Point from the error inside the body back to this call.
      if diagnostics.count > before {
        diagnostics[diagnostics.count - 1].notes.append(.note(.inCallTo(f.name), at: range))
      }
      throw error
    }
  }

  /// `axis: rows` (fold the rows away: one result per column, numpy's axis
  /// 0) or `axis: columns`. Numbers are refused: they would read as 1-based
  /// like indices and silently swap the axes.
  mutating func axis(
    _ labeled: [String: Expr], in context: ElaborationContext
  ) throws(Poisoned) -> Axis {
    guard let e = labeled["axis"] else { return .all }
    switch e.kind {
    case .name("rows"): return .rows
    case .name("columns"): return .columns
    case .number(let v, _):
      throw error(
        .axisNumbered(formatNumber(v), name: v == 0 ? "rows" : v == 1 ? "columns" : nil),
        at: e.range)
    default: throw error(.axisValue("'\(e.range.text)'"), at: e.range)
    }
  }

  mutating func builtin(
    _ name: String, _ args: [Expr], _ labeled: [String: Expr], at range: SourceRange,
    in context: ElaborationContext
  ) throws(Poisoned) -> Value {
    if let f = UnaryFunction(rawValue: name) {
      return try apply(.unary(f), [try expression(args[0], in: context)], at: range)
    }
    if let r = Reduction(rawValue: name) {
      // max(a, b) and min(a, b): the entrywise larger or smaller.
      if args.count == 2 {
        if let a = labeled["axis"] { throw error(.axisOfTwoArguments(name), at: a.range) }
        let f: BinaryFunction = r == .max ? .maximum : .minimum
        return try apply(
          .binary(f), [try expression(args[0], in: context), try expression(args[1], in: context)],
          at: range)
      }
      let x = try expression(args[0], in: context)
      return try apply(.reduce(r, try axis(labeled, in: context)), [x], at: range)
    }
    switch name {
    case "argmax":
      return try apply(
        .argmax(try axis(labeled, in: context)), [try expression(args[0], in: context)], at: range)
    case "dot":
      let a = try expression(args[0], in: context)
      let b = try expression(args[1], in: context)
      let (sa, sb) = (program.graph.shape(a.node), program.graph.shape(b.node))
      guard sa.isVector, sb.isVector else {
        throw error(
          .shapeMismatch("dot takes two vectors, not \(sa) and \(sb); use '@' for matrices"),
          at: range)
      }
      return try apply(.matmul(transposeLeft: false, transposeRight: false), [a, b], at: range)
    case "softmax": return try apply(.softmax, [try expression(args[0], in: context)], at: range)
    case "log_softmax":
      return try apply(.logSoftmax, [try expression(args[0], in: context)], at: range)
    case "cross_entropy":
      return try crossEntropy(args[0], args[1], base: labeled["base"], at: range, in: context)
    case "logistic_loss":
      // log(1 + exp(-m)), stable for any margin.
      let m = try apply(.unary(.negate), [try expression(args[0], in: context)], at: range)
      return try apply(.unary(.softplus), [m], at: range)
    case "solve":
      return try apply(
        .solve, [try expression(args[0], in: context), try expression(args[1], in: context)],
        at: range)
    case "eye":
      let n = try size(args[0], in: context)
      if n * n > options.maximumTensorElements {
        throw error(
          .tooLarge("eye(\(n))", "\(n * n)", limit: "\(options.maximumTensorElements)"), at: range)
      }
      var t = Tensor(filling: 0, shape: .matrix(n, n))
      for i in 0..<n { t[i, i] = 1 }
      return Value(node: program.graph.literal(t, at: range), perTask: false)
    case "zeros", "ones":
      let s = try shape(args, at: range, in: context)
      return Value(
        node: program.graph.make(.constant(name == "zeros" ? 0 : 1), shape: s, at: range),
        perTask: false)
    case "diag": return try apply(.diag, [try expression(args[0], in: context)], at: range)
    case "row", "col":
      let v = try expression(args[0], in: context)
      let s = program.graph.shape(v.node)
      guard s.isVector else {
        throw error(.shapeMismatch("\(name) takes a vector, not \(s)"), at: range)
      }
      return try apply(
        .reshape, [v], shape: name == "row" ? .matrix(1, s.rows) : .matrix(s.rows, 1), at: range)
    case "binary_cross_entropy":
      // softplus(z) − y·z = −y log σ(z) − (1 − y) log(1 − σ(z)), stable for any z.
      let z = try expression(args[0], in: context)
      let y = try expression(args[1], in: context)
      try checkOrientation(z, y, at: range)
      let yz = try apply(.binary(.multiply), [y, z], at: range)
      return try apply(
        .binary(.subtract), [try apply(.unary(.softplus), [z], at: range), yz], at: range)
    case "outer":
      let u = try expression(args[0], in: context)
      let v = try expression(args[1], in: context)
      let (su, sv) = (program.graph.shape(u.node), program.graph.shape(v.node))
      guard su.isVector, sv.isVector else {
        throw error(.shapeMismatch("outer takes two vectors, not \(su) and \(sv)"), at: range)
      }
      let column = try apply(.reshape, [u], shape: .matrix(su.rows, 1), at: range)
      let row = try apply(.reshape, [v], shape: .matrix(1, sv.rows), at: range)
      return try apply(
        .matmul(transposeLeft: false, transposeRight: false), [column, row], at: range)
    case "concat":
      var parts: [Value] = []
      for a in args { parts.append(try expression(a, in: context)) }
      let ax = try axis(labeled, in: context)
      return try apply(.concat(axis: ax == .columns ? 1 : 0), parts, at: range)
    case "reshape":
      let x = try expression(args[0], in: context)
      return try apply(
        .reshape, [x], shape: try shape(Array(args.dropFirst()), at: range, in: context), at: range)
    default:
      preconditionFailure("builtin \(name) has a signature but no elaboration")
    }
  }

  /// cross_entropy(logits, labels): one loss per row (a vector) for matrix
  /// logits, a scalar for vector logits. Labels are probabilities of the
  /// logits' shape, or class numbers known at compile time, 1-based unless `base: 0`.
  mutating func crossEntropy(
    _ logitsExpr: Expr, _ labelsExpr: Expr, base baseExpr: Expr?, at range: SourceRange,
    in context: ElaborationContext
  ) throws(Poisoned) -> Value {
    var base = 1
    if let b = baseExpr {
      base = try integer(b, what: "base", in: context)
      guard base == 0 || base == 1 else { throw error(.labelBase("\(base)"), at: b.range) }
    }
    let z = try expression(logitsExpr, in: context)
    var y = try expression(labelsExpr, in: context)
    let zs = program.graph.shape(z.node)
    let ys = program.graph.shape(y.node)
    guard !zs.isScalar else {
      throw error(
        .shapeMismatch("cross_entropy needs vector or matrix logits, not a scalar"),
        at: logitsExpr.range)
    }
    if ys != zs {
      let classes = zs.isMatrix ? zs.columns : zs.rows
      let rows = zs.isMatrix ? zs.rows : 1
      guard (zs.isMatrix && ys == .vector(zs.rows)) || (zs.isVector && ys.isScalar) else {
        throw error(
          .shapeMismatch(
            "cross_entropy labels must be probabilities of shape \(zs) or \(zs.isMatrix ? "a vector[\(zs.rows)]" : "a scalar") of class numbers, not \(ys)"
          ), at: labelsExpr.range)
      }
      guard !y.perTask, isConstant(y.node) else {
        throw error(.notCompileTime("class labels"), at: labelsExpr.range)
      }
      let labels = try evaluateConstant(y.node)
      var onehot = Tensor(filling: 0, shape: zs)
      for r in 0..<rows {
        let c = labels.scalars[r]
        let k = c - Double(base)
        guard k == k.rounded(), k >= 0, k < Double(classes) else {
          throw error(
            .classLabelRange(formatNumber(c), classes: classes, base: base), at: labelsExpr.range)
        }
        onehot.scalars[r * classes + Int(k)] = 1
      }
      y = Value(node: program.graph.literal(onehot, at: labelsExpr.range), perTask: false)
    }
    let logp = try apply(.logSoftmax, [z], at: range)
    let weighted = try apply(.binary(.multiply), [y, logp], at: range)
    let total = try apply(.reduce(.sum, zs.isMatrix ? .columns : .all), [weighted], at: range)
    return try apply(.unary(.negate), [total], at: range)
  }
}
