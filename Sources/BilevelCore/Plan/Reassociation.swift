/// Rewrites that only a compiler seeing the whole program can make: move
/// work on data alone out of the solver loop by distributing and
/// reassociating matrix products. The least-squares gradient Xᵀ(c(Xθ − y))
/// becomes c((XᵀX)θ − Xᵀy), with XᵀX and Xᵀy computed once when the plan is
/// built. These change rounding (not results), so they run when planning,
/// never in the simplifier; a plan equals the reference up to rounding.
public enum Reassociation {
  public static let rules: [RewriteRule] = [
    // A (c x) → c (A x) for a scalar c: exposes A x to the rules below.
    RewriteRule(name: "scale-out-of-product", changesIEEEResults: true) { rw, n in
      guard case .matmul = n.op else { return nil }
      for k in 0..<2 {
        let x = n.inputs[k]
        guard rw.op(x) == .binary(.multiply) else { continue }
        let m = rw.graph[x]
        for s in 0..<2
        where rw.shape(m.inputs[s]).isScalar && rw.shape(m.inputs[1 - s]) == rw.shape(x) {
          var inputs = n.inputs
          inputs[k] = m.inputs[1 - s]
          return rw.multiply(m.inputs[s], rw.node(n.op, inputs))
        }
      }
      return nil
    },
    // A (x ± y) → A x ± A y when A and one of x, y are fixed: that half is computed once.
    RewriteRule(name: "distribute-fixed-product", changesIEEEResults: true) { rw, n in
      guard case .matmul(let tl, let tr) = n.op, !rw.graph.shape(n.inputs[1]).isMatrix || !tr else {
        return nil
      }
      let (a, x) = (n.inputs[0], n.inputs[1])
      guard rw.isParameterFree(a), case .binary(let f) = rw.op(x), f == .add || f == .subtract
      else { return nil }
      let s = rw.graph[x]
      guard rw.shape(s.inputs[0]) == rw.shape(x), rw.shape(s.inputs[1]) == rw.shape(x),
        rw.isParameterFree(s.inputs[0]) != rw.isParameterFree(s.inputs[1])
      else { return nil }
      let left = rw.matmul(a, s.inputs[0], tl, tr)
      let right = rw.matmul(a, s.inputs[1], tl, tr)
      return f == .add ? rw.add(left, right) : rw.subtract(left, right)
    },
    // A (B w) → (A B) w for fixed A, B, when the fixed product makes each run cheaper.
    RewriteRule(name: "reassociate-fixed-product", changesIEEEResults: true) { rw, n in
      guard case .matmul(let ta, false) = n.op, rw.shape(n.inputs[0]).isMatrix,
        case .matmul(let tb, false)? = Optional(rw.op(n.inputs[1])), rw.shape(n.inputs[1]).isVector
      else { return nil }
      let inner = rw.graph[n.inputs[1]]
      let (a, b, w) = (n.inputs[0], inner.inputs[0], inner.inputs[1])
      guard rw.shape(b).isMatrix, rw.isParameterFree(a), rw.isParameterFree(b),
        !rw.isParameterFree(w)
      else { return nil }
      let sa = ta ? rw.shape(a).transposed : rw.shape(a)
      let sb = tb ? rw.shape(b).transposed : rw.shape(b)
      // Per run: A(Bw) costs m·k + k·n multiply-adds; (AB)w costs m·n.
      guard sa.rows * sb.columns < sa.rows * sa.columns + sb.rows * sb.columns else { return nil }
      return rw.matmul(rw.matmul(a, b, ta, tb), w)
    },
  ]
}
