/// A named algebraic identity. `apply` returns the rewritten node, built
/// through the rewriter, or nil when the rule does not match.
public struct RewriteRule: Sendable {
  public let name: String
  /// Rules that can change a result under IEEE arithmetic (NaN, infinities,
  /// rounding) run only with `unsafeMath`.
  public let changesIEEEResults: Bool
  let apply: @Sendable (inout Rewriter, Node) -> NodeID?
}

/// All rewrite rules, in the order they are tried. Each comment states the
/// identity; "safe" rules keep every IEEE result (up to the sign of zero).
public enum RewriteRules {
  public static let all: [RewriteRule] = [
    // op(constants) → constant: computes the op itself, now instead of later.
    RewriteRule(name: "fold-constants", changesIEEEResults: false) { rw, n in
      guard !n.op.isLeaf, n.op.family != .tasks, !n.inputs.isEmpty,
        let values = allConstants(rw.graph, n.inputs), n.shape.count <= 4096
      else { return nil }
      return rw.graph.literal(n.op.evaluateReference(values, shape: n.shape))
    },
    // a ∘ b → b ∘ a for + and *, constants first, then by ID: one form per sum or product.
    RewriteRule(name: "commute-canonical", changesIEEEResults: false) { rw, n in
      guard case .binary(let f) = n.op, f.isCommutative else { return nil }
      let (a, b) = (n.inputs[0], n.inputs[1])
      let aConst = rw.value(a) != nil
      let bConst = rw.value(b) != nil
      guard (bConst && !aConst) || (aConst == bConst && b < a) else { return nil }
      return rw.node(n.op, [b, a])
    },
    // x + 0 → x, 0 + x → x
    RewriteRule(name: "add-zero", changesIEEEResults: false) { rw, n in
      guard n.op == .binary(.add) else { return nil }
      if rw.isZero(n.inputs[0]) { return rw.broadcast(n.inputs[1], to: n.shape) }
      if rw.isZero(n.inputs[1]) { return rw.broadcast(n.inputs[0], to: n.shape) }
      return nil
    },
    // x - 0 → x; 0 - x → -x
    RewriteRule(name: "subtract-zero", changesIEEEResults: false) { rw, n in
      guard n.op == .binary(.subtract) else { return nil }
      if rw.isZero(n.inputs[1]) { return rw.broadcast(n.inputs[0], to: n.shape) }
      if rw.isZero(n.inputs[0]) {
        return rw.node(.unary(.negate), [rw.broadcast(n.inputs[1], to: n.shape)])
      }
      return nil
    },
    // x * 1 → x; x / 1 → x; x ^ 1 → x
    RewriteRule(name: "identity-operand", changesIEEEResults: false) { rw, n in
      switch n.op {
      case .binary(.multiply):
        if rw.isConstant(n.inputs[0], 1) { return rw.broadcast(n.inputs[1], to: n.shape) }
        if rw.isConstant(n.inputs[1], 1) { return rw.broadcast(n.inputs[0], to: n.shape) }
      case .binary(.divide), .binary(.power):
        if rw.isConstant(n.inputs[1], 1) { return rw.broadcast(n.inputs[0], to: n.shape) }
      default: break
      }
      return nil
    },
    // x ^ 0 → 1 (IEEE pow gives 1 for every x, NaN included)
    RewriteRule(name: "power-zero", changesIEEEResults: false) { rw, n in
      guard n.op == .binary(.power), rw.isZero(n.inputs[1]) else { return nil }
      return rw.graph.constant(1, shape: n.shape)
    },
    // -(-x) → x
    RewriteRule(name: "double-negation", changesIEEEResults: false) { rw, n in
      guard n.op == .unary(.negate), rw.op(n.inputs[0]) == .unary(.negate) else { return nil }
      return rw.graph[n.inputs[0]].inputs[0]
    },
    // x - (-y) → x + y; x + (-y) → x - y; (-x) + y → y - x
    RewriteRule(name: "absorb-negation", changesIEEEResults: false) { rw, n in
      guard case .binary(let f) = n.op, f == .add || f == .subtract else { return nil }
      let (a, b) = (n.inputs[0], n.inputs[1])
      if rw.op(b) == .unary(.negate) {
        return rw.node(.binary(f == .add ? .subtract : .add), [a, rw.graph[b].inputs[0]])
      }
      if f == .add, rw.op(a) == .unary(.negate) {
        return rw.node(.binary(.subtract), [b, rw.graph[a].inputs[0]])
      }
      return nil
    },
    // (-x) * (-y) → x * y; c * (-x) → (-c) * x; -(c * x) → (-c) * x
    RewriteRule(name: "negation-into-constant", changesIEEEResults: false) { rw, n in
      if n.op == .binary(.multiply) {
        let (a, b) = (n.inputs[0], n.inputs[1])
        if rw.op(a) == .unary(.negate), rw.op(b) == .unary(.negate) {
          return rw.node(.binary(.multiply), [rw.graph[a].inputs[0], rw.graph[b].inputs[0]])
        }
        if let c = rw.value(a), rw.op(b) == .unary(.negate) {
          return rw.node(
            .binary(.multiply), [rw.graph.constant(-c, shape: rw.shape(a)), rw.graph[b].inputs[0]])
        }
      }
      if n.op == .unary(.negate), rw.op(n.inputs[0]) == .binary(.multiply) {
        let inner = rw.graph[n.inputs[0]]
        if let c = rw.value(inner.inputs[0]) {
          return rw.node(
            .binary(.multiply),
            [rw.graph.constant(-c, shape: rw.shape(inner.inputs[0])), inner.inputs[1]])
        }
      }
      return nil
    },
    // -1 * x → -x (negation is exact)
    RewriteRule(name: "multiply-minus-one", changesIEEEResults: false) { rw, n in
      guard n.op == .binary(.multiply), rw.isConstant(n.inputs[0], -1),
        rw.shape(n.inputs[0]).isScalar
      else { return nil }
      return rw.broadcast(rw.node(.unary(.negate), [n.inputs[1]]), to: n.shape)
    },
    // a ∘ broadcast(s) → a ∘ s, and a ∘ (c filled) → a ∘ c, when the
    // operator's own broadcasting gives the same shape
    RewriteRule(name: "implicit-broadcast", changesIEEEResults: false) { rw, n in
      guard case .binary = n.op else { return nil }
      for k in 0..<2 {
        var inputs = n.inputs
        if rw.op(n.inputs[k]) == .broadcast {
          inputs[k] = rw.graph[n.inputs[k]].inputs[0]
        } else if let c = rw.value(n.inputs[k]), !rw.shape(n.inputs[k]).isScalar {
          inputs[k] = rw.graph.constant(c)
        } else {
          continue
        }
        if (try? broadcastShape(rw.shape(inputs[0]), rw.shape(inputs[1]))) == n.shape {
          return rw.node(n.op, inputs)
        }
      }
      return nil
    },
    // x + x → 2 * x (exact: doubling does not round)
    RewriteRule(name: "add-self", changesIEEEResults: false) { rw, n in
      guard n.op == .binary(.add), n.inputs[0] == n.inputs[1] else { return nil }
      return rw.node(.binary(.multiply), [rw.graph.constant(2), n.inputs[0]])
    },
    // (A')' → A; x' → x for scalars and vectors
    RewriteRule(name: "transpose-transpose", changesIEEEResults: false) { rw, n in
      guard n.op == .transpose else { return nil }
      let x = n.inputs[0]
      if !rw.shape(x).isMatrix { return x }
      if rw.op(x) == .transpose { return rw.graph[x].inputs[0] }
      return nil
    },
    // A' @ B → matmul(A, B, transposeLeft), likewise on the right: no transpose is materialised
    RewriteRule(name: "fold-transpose-into-matmul", changesIEEEResults: false) { rw, n in
      guard case .matmul(let tl, let tr) = n.op else { return nil }
      let (a, b) = (n.inputs[0], n.inputs[1])
      if rw.op(a) == .transpose {
        return rw.node(.matmul(transposeLeft: !tl, transposeRight: tr), [rw.graph[a].inputs[0], b])
      }
      if rw.op(b) == .transpose {
        return rw.node(.matmul(transposeLeft: tl, transposeRight: !tr), [a, rw.graph[b].inputs[0]])
      }
      return nil
    },
    // (A @ B)' → B' @ A', as flags: (A' @ B')' = B @ A
    RewriteRule(name: "transpose-of-matmul", changesIEEEResults: false) { rw, n in
      guard n.op == .transpose, case .matmul(let tl, let tr) = rw.op(n.inputs[0]) else {
        return nil
      }
      let m = rw.graph[n.inputs[0]]
      guard rw.shape(m.inputs[0]).isMatrix, rw.shape(m.inputs[1]).isMatrix else { return nil }
      return rw.node(.matmul(transposeLeft: !tr, transposeRight: !tl), [m.inputs[1], m.inputs[0]])
    },
    // reshape(reshape(x)) → reshape(x); reshape or broadcast to the same shape → x
    RewriteRule(name: "redundant-reshape", changesIEEEResults: false) { rw, n in
      guard n.op == .reshape || n.op == .broadcast else { return nil }
      let x = n.inputs[0]
      if rw.shape(x) == n.shape { return x }
      if n.op == .reshape, rw.op(x) == .reshape {
        return rw.node(.reshape, [rw.graph[x].inputs[0]], shape: n.shape)
      }
      return nil
    },
    // x - x → 0 (wrong for NaN and infinities)
    RewriteRule(name: "subtract-self", changesIEEEResults: true) { rw, n in
      guard n.op == .binary(.subtract), n.inputs[0] == n.inputs[1] else { return nil }
      return rw.graph.constant(0, shape: n.shape)
    },
    // x * 0 → 0 (wrong for NaN, infinities and the sign of zero)
    RewriteRule(name: "multiply-zero", changesIEEEResults: true) { rw, n in
      guard n.op == .binary(.multiply), rw.isZero(n.inputs[0]) || rw.isZero(n.inputs[1]) else {
        return nil
      }
      return rw.graph.constant(0, shape: n.shape)
    },
    // x / x → 1 (wrong at 0, NaN and infinities)
    RewriteRule(name: "divide-self", changesIEEEResults: true) { rw, n in
      guard n.op == .binary(.divide), n.inputs[0] == n.inputs[1] else { return nil }
      return rw.graph.constant(1, shape: n.shape)
    },
    // log(exp(x)) → x (exp overflows for large x); exp(log(x)) → x (log is NaN for x < 0)
    RewriteRule(name: "log-exp-inverse", changesIEEEResults: true) { rw, n in
      switch (n.op, rw.op(n.inputs.first ?? NodeID(0))) {
      case (.unary(.log), .unary(.exp)), (.unary(.exp), .unary(.log)):
        return rw.graph[n.inputs[0]].inputs[0]
      default: return nil
      }
    },
    // a*x + b*x → (a+b)*x, a*x - b*x → (a-b)*x, x + b*x → (1+b)*x (rounds differently)
    RewriteRule(name: "collect-scaled-terms", changesIEEEResults: true) { rw, n in
      guard case .binary(let f) = n.op, f == .add || f == .subtract else { return nil }
      guard let (a, x) = scaled(rw, n.inputs[0]), let (b, y) = scaled(rw, n.inputs[1]), x == y
      else { return nil }
      let c = f == .add ? a + b : a - b
      return rw.broadcast(rw.node(.binary(.multiply), [rw.graph.constant(c), x]), to: n.shape)
    },
    // c1 * (c2 * x) → (c1 c2) * x (rounds differently)
    RewriteRule(name: "combine-scales", changesIEEEResults: true) { rw, n in
      guard n.op == .binary(.multiply), let c1 = rw.value(n.inputs[0]),
        rw.shape(n.inputs[0]).isScalar,
        rw.op(n.inputs[1]) == .binary(.multiply)
      else { return nil }
      let inner = rw.graph[n.inputs[1]]
      guard let c2 = rw.value(inner.inputs[0]), rw.shape(inner.inputs[0]).isScalar else {
        return nil
      }
      return rw.node(.binary(.multiply), [rw.graph.constant(c1 * c2), inner.inputs[1]])
    },
  ]

  static func allConstants(_ g: Graph, _ inputs: [NodeID]) -> [Tensor]? {
    var values: [Tensor] = []
    for i in inputs {
      guard let t = g.constantValue(i) else { return nil }
      values.append(t)
    }
    return values
  }

  /// `c * x` → (c, x) for a scalar constant c; a bare `x` → (1, x).
  static func scaled(_ rw: Rewriter, _ id: NodeID) -> (Double, NodeID)? {
    let n = rw.graph[id]
    if n.op == .binary(.multiply), let c = rw.value(n.inputs[0]), rw.shape(n.inputs[0]).isScalar {
      return (c, n.inputs[1])
    }
    if rw.value(id) != nil { return nil }
    return (1, id)
  }
}
