import Foundation

/// An independent oracle for gradients: scalar reverse mode on a tape,
/// written from the textbook formulas and sharing nothing with the
/// compiler's derivative rules. Each node holds its value, the partial
/// derivatives with respect to its parents, and an adjoint filled by
/// `backward`, which visits nodes in reverse creation (topological) order.
public final class TapeNode {
  public let value: Double
  public fileprivate(set) var adjoint = 0.0
  fileprivate let parents: [(node: TapeNode, partial: Double)]

  fileprivate init(_ value: Double, _ parents: [(node: TapeNode, partial: Double)]) {
    self.value = value
    self.parents = parents
  }
}

public final class ScalarTape {
  public private(set) var nodes: [TapeNode] = []
  /// Set when an operation leaves the region where the test compares
  /// gradients (near a pole or a domain boundary, or very large values).
  public private(set) var outOfDomain = false

  public init() {}

  func record(_ value: Double, _ parents: [(node: TapeNode, partial: Double)]) -> TapeNode {
    if !value.isFinite || abs(value) > 1e4 { outOfDomain = true }
    let node = TapeNode(value, parents)
    nodes.append(node)
    return node
  }

  public func variable(_ v: Double) -> TapeNode { record(v, []) }
  public func constant(_ v: Double) -> TapeNode { record(v, []) }

  public func add(_ a: TapeNode, _ b: TapeNode) -> TapeNode {
    record(a.value + b.value, [(a, 1), (b, 1)])
  }
  public func subtract(_ a: TapeNode, _ b: TapeNode) -> TapeNode {
    record(a.value - b.value, [(a, 1), (b, -1)])
  }
  public func multiply(_ a: TapeNode, _ b: TapeNode) -> TapeNode {
    record(a.value * b.value, [(a, b.value), (b, a.value)])
  }

  public func divide(_ a: TapeNode, _ b: TapeNode) -> TapeNode {
    if abs(b.value) < 0.2 { outOfDomain = true }
    return record(a.value / b.value, [(a, 1 / b.value), (b, -a.value / (b.value * b.value))])
  }

  public func negate(_ a: TapeNode) -> TapeNode { record(-a.value, [(a, -1)]) }

  public func exp(_ a: TapeNode) -> TapeNode {
    let e = Foundation.exp(a.value)
    return record(e, [(a, e)])
  }

  public func log(_ a: TapeNode) -> TapeNode {
    if a.value < 0.05 { outOfDomain = true }
    return record(Foundation.log(a.value), [(a, 1 / a.value)])
  }

  public func tanh(_ a: TapeNode) -> TapeNode {
    let t = Foundation.tanh(a.value)
    return record(t, [(a, 1 - t * t)])
  }

  public func sin(_ a: TapeNode) -> TapeNode {
    record(Foundation.sin(a.value), [(a, Foundation.cos(a.value))])
  }
  public func cos(_ a: TapeNode) -> TapeNode {
    record(Foundation.cos(a.value), [(a, -Foundation.sin(a.value))])
  }

  public func sqrt(_ a: TapeNode) -> TapeNode {
    if a.value < 0.05 { outOfDomain = true }
    let r = a.value.squareRoot()
    return record(r, [(a, 0.5 / r)])
  }

  static func logistic(_ x: Double) -> Double {
    x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x))
  }

  public func sigmoid(_ a: TapeNode) -> TapeNode {
    let s = Self.logistic(a.value)
    return record(s, [(a, s * (1 - s))])
  }

  /// log(1 + eˣ) and its derivative, the logistic function.
  public func softplus(_ a: TapeNode) -> TapeNode {
    let x = a.value
    return record(max(x, 0) + Foundation.log1p(Foundation.exp(-abs(x))), [(a, Self.logistic(x))])
  }

  /// aᶜ for a constant c.
  public func power(_ a: TapeNode, _ c: Double) -> TapeNode {
    if c != c.rounded() && a.value < 0.05 { outOfDomain = true }
    if c < 0 && abs(a.value) < 0.2 { outOfDomain = true }
    return record(Foundation.pow(a.value, c), [(a, c * Foundation.pow(a.value, c - 1))])
  }

  /// Adjoints of every node with respect to `output`. With `absolute`,
  /// each partial counts by its absolute value: Σ over paths of |∏ partials|,
  /// the magnitude rounding errors in the true adjoint scale with.
  public func backward(from output: TapeNode, absolute: Bool = false) {
    for n in nodes { n.adjoint = 0 }
    output.adjoint = 1
    for n in nodes.reversed() where n.adjoint != 0 {
      for (p, d) in n.parents { p.adjoint += n.adjoint * (absolute ? abs(d) : d) }
    }
  }
}
