import BilevelCore

/// The one table from IR ops to `jax.numpy`: each op's Python expression
/// from its inputs' expressions. The switches are exhaustive with no
/// default, so a new op does not build until it has a translation here.
/// Semantics follow Sources/BilevelCore/Ops; where an op has a documented
/// value at a kink (sqrt'(0) = 0, abs'(0) = 0, norm'(0) = 0) the module's
/// prelude defines a function with that derivative.
enum JAXOpTable {
  /// What the writer does with a node.
  enum Translation {
    case expression(String)
    /// Named by the function's context (variables, data, inputs, literals).
    case leaf
    /// `mean over t` / `sum over t`: a vmap over the tasks, written by the function writer.
    case taskReduction(Reduction)
  }

  static func translate(_ node: Node, _ args: [String], _ inputShapes: [Shape]) -> Translation {
    switch node.op {
    case .constant(let v): return .expression(constant(v, node.shape))
    case .literal, .data, .variable, .input: return .leaf
    case .unary(let f): return .expression(unary(f, args[0]))
    case .binary(let f):
      let a = adapt(args[0], inputShapes[0], to: node.shape)
      let b = adapt(args[1], inputShapes[1], to: node.shape)
      switch f {
      // jnp.where keeps bilevelc's convention: a tie's gradient goes to a.
      case .maximum: return .expression("jnp.where(\(a) >= \(b), \(a), \(b))")
      case .minimum: return .expression("jnp.where(\(a) <= \(b), \(a), \(b))")
      default: return .expression("(\(a) \(binarySymbol(f)) \(b))")
      }
    case .broadcast:
      return .expression(
        "jnp.broadcast_to(\(adapt(args[0], inputShapes[0], to: node.shape)), \(tuple(node.shape)))")
    case .transpose:
      return .expression(inputShapes[0].isMatrix ? "jnp.transpose(\(args[0]))" : args[0])
    case .reshape: return .expression("jnp.reshape(\(args[0]), \(tuple(node.shape)))")
    case .slice(let s):
      let window =
        inputShapes[0].isMatrix
        ? "\(args[0])[\(s.rowStart):\(s.rowEnd), \(s.columnStart):\(s.columnEnd)]"
        : "\(args[0])[\(s.rowStart):\(s.rowEnd)]"
      return .expression("jnp.reshape(\(window), \(tuple(node.shape)))")
    case .concat(let axis):
      if !node.shape.isMatrix {
        return .expression(
          "jnp.concatenate([\(args.map { "jnp.ravel(\($0))" }.joined(separator: ", "))])")
      }
      return .expression("jnp.concatenate([\(args.joined(separator: ", "))], axis=\(axis))")
    case .diag: return .expression("jnp.diag(\(args[0]))")
    case .matmul(let tl, let tr):
      let l = tl && inputShapes[0].isMatrix ? "jnp.transpose(\(args[0]))" : args[0]
      let r = tr && inputShapes[1].isMatrix ? "jnp.transpose(\(args[1]))" : args[1]
      return .expression("jnp.matmul(\(l), \(r))")
    case .solve: return .expression("jnp.linalg.solve(\(args[0]), \(args[1]))")
    case .reduce(let r, let axis): return .expression(reduction(r, axis, args[0]))
    case .argmax(let axis):
      let a =
        axis == .all || !inputShapes[0].isMatrix ? "" : axis == .rows ? ", axis=0" : ", axis=1"
      return .expression("(jnp.argmax(\(args[0])\(a)) + 1.0)")
    case .softmax: return .expression("jax.nn.softmax(\(args[0]), axis=-1)")
    case .logSoftmax: return .expression("jax.nn.log_softmax(\(args[0]), axis=-1)")
    case .taskReduce(let r): return .taskReduction(r)
    }
  }

  static func unary(_ f: UnaryFunction, _ x: String) -> String {
    switch f {
    case .negate: return "(-\(x))"
    case .exp: return "jnp.exp(\(x))"
    case .log: return "jnp.log(\(x))"
    case .sqrt: return "sqrt0(\(x))"
    case .abs: return "abs0(\(x))"
    case .tanh: return "jnp.tanh(\(x))"
    case .sigmoid: return "jax.nn.sigmoid(\(x))"
    case .relu: return "jax.nn.relu(\(x))"
    case .softplus: return "jax.nn.softplus(\(x))"
    case .sin: return "jnp.sin(\(x))"
    case .cos: return "jnp.cos(\(x))"
    case .sign: return "jnp.sign(\(x))"
    case .step: return "step0(\(x))"
    }
  }

  static func binarySymbol(_ f: BinaryFunction) -> String {
    switch f {
    case .add: return "+"
    case .subtract: return "-"
    case .multiply: return "*"
    case .divide: return "/"
    case .power: return "**"
    case .maximum, .minimum: preconditionFailure("\(f) is a call, translated above")
    }
  }

  static func reduction(_ r: Reduction, _ axis: Axis, _ x: String) -> String {
    let a: String
    switch axis {
    case .all: a = ""
    case .rows: a = ", axis=0"
    case .columns: a = ", axis=1"
    }
    switch r {
    case .sum: return "jnp.sum(\(x)\(a))"
    case .mean: return "jnp.mean(\(x)\(a))"
    case .max: return "jnp.max(\(x)\(a))"
    case .min: return "jnp.min(\(x)\(a))"
    case .logsumexp: return "jax.scipy.special.logsumexp(\(x)\(a))"
    case .norm: return "norm0(\(x)\(a))"
    }
  }

  /// An operand as numpy broadcasting reads it: bilevelc repeats a vector
  /// across a matrix's columns when its length is the row count, and any
  /// one-entry value everywhere.
  static func adapt(_ x: String, _ from: Shape, to: Shape) -> String {
    switch BroadcastRole.of(from, in: to) {
    case .scalar?: return from.isScalar ? x : "jnp.reshape(\(x), ())"
    case .column? where from.isVector: return "\(x)[:, None]"
    default: return x
    }
  }

  static func constant(_ v: Double, _ shape: Shape) -> String {
    shape.isScalar ? number(v) : "jnp.full(\(tuple(shape)), \(number(v)))"
  }

  /// A double as Python reads it back exactly.
  static func number(_ v: Double) -> String {
    if v.isNaN { return "jnp.nan" }
    if v.isInfinite { return v < 0 ? "-jnp.inf" : "jnp.inf" }
    return "\(v)"
  }

  static func tuple(_ s: Shape) -> String {
    switch s.rank {
    case 0: return "()"
    case 1: return "(\(s.rows),)"
    default: return "(\(s.rows), \(s.columns))"
    }
  }
}
