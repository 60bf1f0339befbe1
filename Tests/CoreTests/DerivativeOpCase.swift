import BilevelCore
import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

/// Sizes a case's shapes are drawn at; one per point.
struct Sizes: Sendable, CustomStringConvertible {
  let m: Int, n: Int, p: Int
  var description: String { "m=\(m) n=\(n) p=\(p)" }
}

/// A dimension of an operand, resolved per point.
enum Dim: Sendable {
  case m, n, p, mn
  case fixed(Int)
  func value(_ s: Sizes) -> Int {
    switch self {
    case .m: return s.m
    case .n: return s.n
    case .p: return s.p
    case .mn: return s.m * s.n
    case .fixed(let k): return k
    }
  }
}

/// Where an operand's entries come from: smooth points only.
enum Domain: Sendable {
  /// Normal, with |x| ≥ 0.2 (away from the kinks of abs, relu, sign, step at 0).
  case real
  /// |normal| + 0.5.
  case positive
  /// Distinct entries at least 0.2 apart, so max has no ties near the point.
  case separated
  /// A square matrix normal + 2√n I, comfortably invertible.
  case wellConditioned

  init(_ d: TestDomain) {
    switch d {
    case .real: self = .real
    case .positive: self = .positive
    }
  }
}

struct Operand: Sendable {
  let name: String
  let dims: [Dim]
  let domain: Domain

  func shape(_ s: Sizes) -> Shape { Shape(dims.map { $0.value(s) }) }

  func sample(_ s: Sizes, seed: UInt64) -> Tensor {
    let shape = shape(s)
    var rng = TestRandom(seed: seed)
    var v = rng.normals(shape.count)
    switch domain {
    case .real:
      v = v.map { abs($0) >= 0.2 ? $0 : $0 < 0 ? $0 - 0.2 : $0 + 0.2 }
    case .positive:
      v = v.map { abs($0) + 0.5 }
    case .separated:
      // Ranks of the normals, spaced 0.3 apart, jittered by at most ±0.05.
      let ranks = v.indices.sorted { v[$0] < v[$1] }
      var out = v
      for (r, i) in ranks.enumerated() {
        out[i] = 0.3 * (Double(r) - Double(v.count - 1) / 2) + 0.05 * tanh(v[i])
      }
      v = out
    case .wellConditioned:
      for i in 0..<shape.rows { v[i * shape.columns + i] += 2 * Double(shape.rows).squareRoot() }
    }
    return Tensor(shape: shape, scalars: v)
  }
}

extension Operand {
  static func scalar(_ name: String, _ d: Domain = .real) -> Operand {
    Operand(name: name, dims: [], domain: d)
  }
  static func vector(_ name: String, _ n: Dim, _ d: Domain = .real) -> Operand {
    Operand(name: name, dims: [n], domain: d)
  }
  static func matrix(_ name: String, _ r: Dim, _ c: Dim, _ d: Domain = .real) -> Operand {
    Operand(name: name, dims: [r, c], domain: d)
  }
}

/// One derivative test case: a .blv expression over data operands (every
/// operand is differentiated), optional setup statements (tasks, per-task
/// data) and an optional graph step applied to the expression's node (for
/// ops no expression writes, such as an explicit broadcast).
struct OpCase: Sendable, CustomTestStringConvertible, CustomStringConvertible {
  let name: String
  let operands: [Operand]
  let sizes: [Sizes]
  /// Extra points at degenerate sizes (a dimension of 1, square), where
  /// broadcasting and reductions meet their special cases.
  let edges: [Sizes]
  let setup: @Sendable (Sizes) -> [String]
  let text: @Sendable (Sizes) -> String
  let post: (@Sendable (inout Graph, NodeID, Sizes) -> NodeID)?

  var testDescription: String { name }
  var description: String { name }

  static let defaultSizes = [
    Sizes(m: 2, n: 3, p: 2), Sizes(m: 3, n: 2, p: 4), Sizes(m: 3, n: 4, p: 3),
  ]
  /// A dimension of 1, and square (where a vector broadcasts as a row and
  /// an axis mix-up in a rule cannot show through the shapes).
  static let edgeSizes = [
    Sizes(m: 1, n: 3, p: 1), Sizes(m: 3, n: 1, p: 2), Sizes(m: 3, n: 3, p: 2),
  ]

  var points: Int { sizes.count + edges.count }
  func sizes(at p: Int) -> Sizes { p < sizes.count ? sizes[p] : edges[p - sizes.count] }
  /// Point 1 differentiates the graph as elaborated (as the REPL does), the
  /// others its simplified normal form (as the compiler does), point 2 with
  /// the unsafe-math rewrites on; edge points alternate.
  func form(at p: Int) -> (simplify: Bool, unsafeMath: Bool) { (p % 2 == 0, p == 2) }

  init(
    _ name: String, _ operands: [Operand], sizes: [Sizes] = OpCase.defaultSizes,
    edges: [Sizes] = OpCase.edgeSizes,
    setup: @escaping @Sendable (Sizes) -> [String] = { _ in [] },
    post: (@Sendable (inout Graph, NodeID, Sizes) -> NodeID)? = nil,
    _ text: @escaping @Sendable (Sizes) -> String
  ) {
    self.name = name
    self.operands = operands
    self.sizes = sizes
    self.edges = edges
    self.setup = setup
    self.text = text
    self.post = post
  }

  /// The graph and starting point for point `p`: its own sizes and seed.
  func harness(point p: Int) throws -> DerivativeHarness {
    let s = sizes(at: p)
    let (simplify, unsafeMath) = form(at: p)
    let bindings = operands.enumerated().map { k, o in
      (o.name, o.sample(s, seed: TestRandom.seed(name, 16 * p + k)))
    }
    var h = try DerivativeHarness(
      statements: setup(s) + DerivativeHarness.dataStatements(bindings), expression: text(s),
      wrt: operands.map(\.name), simplify: simplify, unsafeMath: unsafeMath)
    if let post {
      let y = h.output
      let z = post(&h.graph, y, s)
      h.setOutput(z)
    }
    return h
  }
}
