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
    // Push-through: (NᵀN + λI_b)⁻¹ Nᵀ G = Nᵀ (NNᵀ + λI_a)⁻¹ G for N a×b (N = M or Mᵀ),
    // either way round: the primal (b×b) or dual (a×a) solve, whichever costs less.
    RewriteRule(name: "woodbury-push-through", changesIEEEResults: true) { rw, n in
      if case .solve = n.op, let k = shiftedGram(&rw, n.inputs[0]),
        case .matmul(k.columns, false) = rw.op(n.inputs[1]), rw.graph[n.inputs[1]].inputs[0] == k.m
      {
        // solve(NᵀN + λI, NᵀG) → Nᵀ solve(NNᵀ + λI, G)
        let g = rw.graph[n.inputs[1]].inputs[1]
        let (a, b) = k.sides(rw)
        guard
          solveCost(&rw, k.m, size: a, other: b, rhs: g)
            < solveCost(&rw, k.m, size: b, other: a, rhs: g)
        else { return nil }
        return rw.matmul(k.m, rw.node(.solve, [k.flipped(&rw), g]), k.columns, false)
      }
      guard case .matmul(let tl, false) = n.op, rw.op(n.inputs[1]) == .solve else { return nil }
      let solve = rw.graph[n.inputs[1]]
      guard let k = shiftedGram(&rw, solve.inputs[0]), k.m == n.inputs[0], k.columns != tl else {
        return nil
      }
      // Nᵀ solve(NNᵀ + λI, G) → solve(NᵀN + λI, NᵀG)
      let g = solve.inputs[1]
      let (a, b) = k.sides(rw)
      guard
        solveCost(&rw, k.m, size: a, other: b, rhs: g)
          < solveCost(&rw, k.m, size: b, other: a, rhs: g)
      else { return nil }
      return rw.node(.solve, [k.flipped(&rw), rw.matmul(k.m, g, tl, false)])
    },
    // Woodbury: (NᵀN + λI_b)⁻¹ G = (G − Nᵀ (NNᵀ + λI_a)⁻¹ N G) / λ for any G (the adjoint
    // solves of a derivative), when the a×a solve and the two products cost less.
    RewriteRule(name: "woodbury", changesIEEEResults: true) { rw, n in
      guard case .solve = n.op, let k = shiftedGram(&rw, n.inputs[0]), let lambda = k.lambda else {
        return nil
      }
      let g = n.inputs[1]
      let (a, b) = k.sides(rw)
      let products = 2 * a * b * rw.shape(g).columns + b * rw.shape(g).columns
      guard
        solveCost(&rw, k.m, size: a, other: b, rhs: g) + products
          < solveCost(&rw, k.m, size: b, other: a, rhs: g)
      else { return nil }
      let dual = rw.node(.solve, [k.flipped(&rw), rw.matmul(k.m, g, !k.columns, false)])
      return rw.divide(rw.subtract(g, rw.matmul(k.m, dual, k.columns, false)), lambda)
    },
    // N (G − Nᵀ S) / λ → S for S = (NNᵀ + λI)⁻¹ N G: the product of a Woodbury form with N
    // (NG − NNᵀS = λS), so the forward value of a dual ridge head is its primal solve.
    RewriteRule(name: "woodbury-product", changesIEEEResults: true) { rw, n in
      guard case .matmul(let tl, false) = n.op, rw.op(n.inputs[1]) == .binary(.divide) else {
        return nil
      }
      let m = n.inputs[0]
      let quotient = rw.graph[n.inputs[1]]
      guard rw.op(quotient.inputs[0]) == .binary(.subtract) else { return nil }
      let difference = rw.graph[quotient.inputs[0]]
      let g = difference.inputs[0]
      guard case .matmul(!tl, false) = rw.op(difference.inputs[1]),
        rw.graph[difference.inputs[1]].inputs[0] == m
      else { return nil }
      let s = rw.graph[difference.inputs[1]].inputs[1]
      guard rw.op(s) == .solve, let k = shiftedGram(&rw, rw.graph[s].inputs[0]), k.m == m,
        k.columns == tl, k.lambda == quotient.inputs[1],
        case .matmul(tl, false) = rw.op(rw.graph[s].inputs[1]),
        rw.graph[rw.graph[s].inputs[1]].inputs == [m, g]
      else { return nil }
      return s
    },
  ]

  /// NᵀN + λI, a Gram matrix of M (N = M: MᵀM, `columns`; N = Mᵀ: MMᵀ) plus
  /// λ (a scalar node, nil for 1) times the identity, or its transpose.
  struct ShiftedGram {
    let m: NodeID
    let columns: Bool
    let lambda: NodeID?

    /// N's rows a and columns b: the dual system is a×a, this one b×b.
    func sides(_ rw: Rewriter) -> (a: Int, b: Int) {
      let s = rw.shape(m)
      return columns ? (s.rows, s.columns) : (s.columns, s.rows)
    }

    /// NNᵀ + λI, the other system.
    func flipped(_ rw: inout Rewriter) -> NodeID {
      let a = sides(rw).a
      var eye = Tensor(filling: 0, shape: .matrix(a, a))
      for i in 0..<a { eye[i, i] = 1 }
      let identity = rw.graph.literal(eye)
      let gram = rw.matmul(m, m, !columns, columns)
      var shift = identity
      if let lambda { shift = rw.multiply(lambda, identity) }
      return rw.add(gram, shift)
    }
  }

  static func shiftedGram(_ rw: inout Rewriter, _ id: NodeID) -> ShiftedGram? {
    let node = rw.op(id) == .transpose ? rw.graph[rw.graph[id].inputs[0]] : rw.graph[id]
    guard node.op == .binary(.add), node.shape.isMatrix, node.shape.rows == node.shape.columns
    else { return nil }
    for k in 0..<2 {
      guard case .matmul(let tl, let tr) = rw.op(node.inputs[k]), tl != tr else { continue }
      let gram = rw.graph[node.inputs[k]]
      guard gram.inputs[0] == gram.inputs[1], let lambda = identityScale(rw, node.inputs[1 - k])
      else { continue }
      return ShiftedGram(m: gram.inputs[0], columns: tl, lambda: lambda)
    }
    return nil
  }

  /// λ of λ I (either factor order): .some(nil) for I itself, nil for anything else.
  static func identityScale(_ rw: Rewriter, _ id: NodeID) -> NodeID?? {
    if isIdentity(rw, id) { return .some(nil) }
    guard rw.op(id) == .binary(.multiply) else { return nil }
    let inputs = rw.graph[id].inputs
    for k in 0..<2 where rw.shape(inputs[k]).isScalar && isIdentity(rw, inputs[1 - k]) {
      return .some(inputs[k])
    }
    return nil
  }

  static func isIdentity(_ rw: Rewriter, _ id: NodeID) -> Bool {
    let shape = rw.shape(id)
    guard shape.isMatrix, shape.rows == shape.columns, let t = rw.graph.constantValue(id) else {
      return false
    }
    let n = shape.rows
    return t.scalars.indices.allSatisfy { t.scalars[$0] == ($0 / n == $0 % n ? 1 : 0) }
  }

  /// Multiply-adds of solve(NᵀN + λI, G) with the system size × size, N's other side
  /// `other`: forming the Gram matrix (unless M is data, hoisted), factorising, substituting.
  static func solveCost(
    _ rw: inout Rewriter, _ m: NodeID, size: Int, other: Int, rhs g: NodeID
  ) -> Int {
    let gram = rw.isParameterFree(m) ? 0 : size * size * other
    return gram + size * size * size / 3 + size * size * rw.shape(g).columns
  }
}
