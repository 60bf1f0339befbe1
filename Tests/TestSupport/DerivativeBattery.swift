import BilevelCore
import BilevelFrontEnd

/// The standard derivative checks for y = f(leaves) at the harness's start
/// point, with s = sum(c ⊙ y) for a random c:
/// ∇s against central differences (per leaf); J t against differences of y;
/// ⟨J t, c⟩ = ⟨t, Jᵀ c⟩; H v against differences of ∇s; ⟨u, H v⟩ = ⟨v, H u⟩;
/// mixed products against differences of partial gradients; the full
/// Jacobian by columns (forward) against rows (reverse); and a dense Hessian
/// block from unit HVPs: symmetric, equal to differences of ∇s, consistent
/// with H v.
public enum DerivativeBattery {
  public struct Options: Sendable {
    /// Central differences against symbolic values.
    public var differenceTolerance = 1e-6
    /// Two symbolic routes to the same number (rounding only).
    public var exactTolerance = 1e-12
    /// Symmetry and dense-versus-product checks of second derivatives.
    public var secondOrderTolerance = 1e-10
    /// Largest number of coordinates (and of outputs) for the dense Jacobian.
    public var denseJacobianLimit = 24
    /// Size of the dense Hessian block.
    public var denseHessianSize = 6
    /// Ordered pairs of distinct leaves for mixed products, among the first few.
    public var mixedLeaves = 3
    /// Richardson-extrapolated differences (for random compositions, whose
    /// higher derivatives can be large enough to matter at h = 1e-5).
    public var extrapolated = false
    public init() {}
  }

  public static func run(
    _ h: inout DerivativeHarness, seed: UInt64, options: Options = Options()
  ) -> [Comparison] {
    var rng = TestRandom(seed: seed)
    let y = h.output
    let wrt = h.leaves.map(\.node)

    // s = sum(c ⊙ y), and every derivative graph, built once.
    let c = h.input(h.graph.shape(y))
    let s = h.graph.make(.reduce(.sum, .all), [h.graph.make(.binary(.multiply), [c, y])])
    let dir = h.direction()
    let grad = h.differentiate { $0.gradient(of: s, wrt: wrt) }
    let jvp = h.differentiate { $0.jacobianVectorProduct(of: [y], wrt: wrt, along: dir) }[0]
    let vjp = h.differentiate { $0.vectorJacobianProduct(of: [y], cotangents: [c], wrt: wrt) }
    let hvp = h.differentiate { $0.hessianVectorProduct(of: s, wrt: wrt, along: dir) }
    // Mixed products ∂/∂a ⟨∇_b s⟩ · t_a for ordered pairs of distinct leaves.
    let few = Array(h.leaves.indices.prefix(options.mixedLeaves))
    var mixed: [(a: Int, b: Int, node: NodeID)] = []
    for a in few {
      for b in few where b != a {
        mixed.append(
          (
            a, b,
            h.differentiate {
              $0.mixedProduct(
                of: s, differentiating: [wrt[b]], along: [wrt[a]], direction: [dir[a]])
            }[0]
          ))
      }
    }
    return check(
      h, options: options, rng: &rng, s: s, c: c, dir: dir, grad: grad, jvp: jvp, vjp: vjp,
      hvp: hvp, mixed: mixed)
  }

  static func check(
    _ h: DerivativeHarness, options: Options, rng: inout TestRandom, s: NodeID, c: NodeID,
    dir: [NodeID],
    grad: [NodeID], jvp: NodeID, vjp: [NodeID], hvp: [NodeID],
    mixed: [(a: Int, b: Int, node: NodeID)]
  ) -> [Comparison] {
    var out: [Comparison] = []
    let x = h.start
    let n = h.dimension
    let y = h.output
    let m = h.graph.shape(y).count

    let cValue = rng.normals(m)
    let cIn = h.bind(c, cValue)
    func with(_ a: [Int: [Tensor]], _ b: [Int: [Tensor]]) -> [Int: [Tensor]] {
      a.merging(b) { l, _ in l }
    }
    let sAt = { (p: [Double]) in h.scalar(s, at: p, inputs: cIn) }
    let gradAt = { (p: [Double]) in h.leafShaped(grad, at: p, inputs: cIn) }
    let noise = 1e-9 * max(1, abs(sAt(x)))
    let g = gradAt(x)

    // ∇s against central differences of s, leaf by leaf.
    for k in h.leaves.indices {
      let r = Array(h.coordinates(of: k))
      let fd = FiniteDifferences.gradient(
        sAt, at: x, indices: r, extrapolated: options.extrapolated)
      out.append(
        Comparison(
          "gradient wrt \(h.leaves[k].name)", Array(g[h.coordinates(of: k)]), fd,
          tolerance: options.differenceTolerance, floor: noise))
    }

    // J t against differences of y along t.
    let t = rng.normals(n)
    let tIn = h.bind(dir, t)
    let jt = h.values(jvp, at: x, inputs: tIn)
    let yNoise = 1e-9 * max(1, Dense.maxAbs(h.values(y, at: x)))
    out.append(
      Comparison(
        "JVP along a random direction", jt,
        FiniteDifferences.directional(
          { h.values(y, at: $0) }, at: x, along: t, extrapolated: options.extrapolated),
        tolerance: options.differenceTolerance, floor: yNoise))

    // ⟨J t, c⟩ = ⟨t, Jᵀ c⟩. Symbolic-only checks are exact up to rounding:
    // relative to the terms they add, with a floor of rounding noise
    // (1e-14 of the gradient's scale) for values that are 0 in exact arithmetic.
    let jtc = h.leafShaped(vjp, at: x, inputs: cIn)
    let rounding = 1e-14 * max(1, Dense.maxAbs(g))
    out.append(
      Comparison(
        "⟨J t, c⟩ = ⟨t, Jᵀ c⟩", [Dense.dot(jt, cValue)], [Dense.dot(t, jtc)],
        tolerance: options.exactTolerance,
        scale: max(Dense.absoluteDot(jt, cValue), Dense.absoluteDot(t, jtc)),
        floor: rounding * Dense.maxAbs(t)))

    // H t against differences of ∇s along t; symmetry ⟨u, H t⟩ = ⟨t, H u⟩.
    let hvpAt = { (v: [Double]) in h.leafShaped(hvp, at: x, inputs: with(cIn, h.bind(dir, v))) }
    let ht = hvpAt(t)
    let gNoise = 1e-9 * max(1, Dense.maxAbs(g))
    out.append(
      Comparison(
        "HVP against differences of the gradient", ht,
        FiniteDifferences.directional(gradAt, at: x, along: t, extrapolated: options.extrapolated),
        tolerance: options.differenceTolerance, floor: gNoise))
    let u = rng.normals(n)
    let hu = hvpAt(u)
    out.append(
      Comparison(
        "HVP symmetry ⟨u, H t⟩ = ⟨t, H u⟩", [Dense.dot(u, ht)], [Dense.dot(t, hu)],
        tolerance: options.secondOrderTolerance,
        scale: max(Dense.absoluteDot(u, ht), Dense.absoluteDot(t, hu)),
        floor: rounding * Dense.maxAbs(t) * Dense.maxAbs(u)))

    for (a, b, product) in mixed {
      var ta = [Double](repeating: 0, count: n)
      for i in h.coordinates(of: a) { ta[i] = t[i] }
      let value = h.shaped(like: b, product, at: x, inputs: with(cIn, tIn))
      let fd = FiniteDifferences.directional(
        { Array(gradAt($0)[h.coordinates(of: b)]) }, at: x, along: ta,
        extrapolated: options.extrapolated)
      out.append(
        Comparison(
          "mixed product ∂/∂\(h.leaves[a].name) ∇_\(h.leaves[b].name)", value, fd,
          tolerance: options.differenceTolerance, floor: gNoise))
    }

    // The whole Jacobian, forward (columns) against reverse (rows).
    if n <= options.denseJacobianLimit && m <= options.denseJacobianLimit {
      let columns = (0..<n).map { j in h.values(jvp, at: x, inputs: h.bind(dir, Dense.unit(j, n))) }
      let rows = (0..<m).map { i in h.leafShaped(vjp, at: x, inputs: h.bind(c, Dense.unit(i, m))) }
      out.append(
        Comparison(
          "Jacobian by columns (JVP) = by rows (VJP)", Dense.fromColumns(columns).flatMap { $0 },
          rows.flatMap { $0 }, tolerance: options.exactTolerance * 10, floor: rounding))
    }

    // A dense Hessian block over up to 6 coordinates, spread over the leaves.
    let chosen = spread(h, count: options.denseHessianSize)
    let columns = chosen.map { hvpAt(Dense.unit($0, n)) }
    let block = columns.map { col in chosen.map { col[$0] } }
    out.append(
      Comparison(
        "dense Hessian block (\(chosen.count)×\(chosen.count)) symmetric", block.flatMap { $0 },
        Dense.transpose(block).flatMap { $0 }, tolerance: options.secondOrderTolerance,
        floor: rounding))
    let fdColumns = chosen.map {
      FiniteDifferences.directional(
        gradAt, at: x, along: Dense.unit($0, n), extrapolated: options.extrapolated)
    }
    out.append(
      Comparison(
        "dense Hessian columns against differences of the gradient", columns.flatMap { $0 },
        fdColumns.flatMap { $0 }, tolerance: options.differenceTolerance, floor: gNoise))
    var v = [Double](repeating: 0, count: n)
    let weights = rng.normals(chosen.count)
    for (j, w) in zip(chosen, weights) { v[j] = w }
    let dense = (0..<n).map { i in zip(columns, weights).reduce(0) { $0 + $1.0[i] * $1.1 } }
    out.append(
      Comparison(
        "HVP = dense Hessian × v", hvpAt(v), dense, tolerance: options.secondOrderTolerance,
        scale: Dense.maxAbs(columns.flatMap { $0 }) * Dense.maxAbs(weights),
        floor: rounding * Dense.maxAbs(weights)))
    return out
  }

  /// Up to `count` coordinates taken round-robin from the leaves, so the
  /// block has cross terms between leaves.
  static func spread(_ h: DerivativeHarness, count: Int) -> [Int] {
    var chosen: [Int] = []
    var depth = 0
    while chosen.count < min(count, h.dimension) {
      for k in h.leaves.indices where chosen.count < count {
        let r = h.coordinates(of: k)
        if depth < r.count { chosen.append(r.lowerBound + depth) }
      }
      depth += 1
    }
    return chosen
  }
}
