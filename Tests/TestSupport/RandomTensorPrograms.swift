import BilevelCore
import BilevelFrontEnd

/// Random well-shaped .blv expressions mixing every family of ops (matmul
/// with transposes, broadcasting, reductions along axes, softmax, slices,
/// reshape, diag, concat, solve), for derivative checks of compositions:
/// the rewriter simplifies derivative graphs as it builds them, so ops meet
/// each other's rules here in ways single-op cases do not show.
/// Sizes are 2 and 3; inputs are one per shape, named by shape.
public struct RandomTensorProgram {
  public let text: String
  public let inputs: [(name: String, shape: Shape)]

  static let dims = [2, 3]

  public static func name(_ s: Shape) -> String {
    switch s.rank {
    case 0: return "s"
    case 1: return "v\(s.rows)"
    default: return "M\(s.rows)\(s.columns)"
    }
  }

  public init(seed: UInt64, depth: Int = 4) {
    var g = Generator(rng: TestRandom(seed: seed))
    text = g.make(.scalar, depth: depth)
    inputs = g.used.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
  }

  struct Generator {
    var rng: TestRandom
    var used: [String: Shape] = [:]

    mutating func leaf(_ s: Shape) -> String {
      let n = RandomTensorProgram.name(s)
      used[n] = s
      return n
    }

    mutating func dim() -> Int { rng.pick(RandomTensorProgram.dims) }

    /// An expression of shape `s`.
    mutating func make(_ s: Shape, depth: Int) -> String {
      if depth <= 0 || rng.chance(0.12) { return leaf(s) }
      let d = depth - 1
      // Shape-preserving forms, available for every shape.
      switch rng.integer(0...9) {
      case 0:
        return "\(rng.pick(["sin", "tanh", "sigmoid", "softplus", "cos"]))(\(make(s, depth: d)))"
      case 1: return "(\(make(s, depth: d)) \(rng.pick(["+", "-", "*"])) \(make(s, depth: d)))"
      case 2:
        return "(\(make(s, depth: d)) \(rng.pick(["+", "*", "-"])) \(make(.scalar, depth: d)))"
      case 3: return "(\(make(s, depth: d)) / (1.5 + \(make(s, depth: d))^2))"
      default: break
      }
      // Shapes with a dimension of 1 come only from the forms above.
      if s.dims.contains(1) { return leaf(s) }
      switch s.rank {
      case 0: return scalar(d)
      case 1: return vector(s.rows, d)
      default: return matrix(s.rows, s.columns, d)
      }
    }

    mutating func scalar(_ d: Int) -> String {
      let k = dim()
      let x = Shape.vector(k)
      switch rng.integer(0...6) {
      case 0:
        return
          "\(rng.pick(["sum", "mean", "logsumexp", "norm", "max"]))(\(make(rng.chance(0.5) ? x : .matrix(k, dim()), depth: d)))"
      case 1: return "dot(\(make(x, depth: d)), \(make(x, depth: d)))"
      case 2: return "(\(make(x, depth: d)) @ \(make(x, depth: d)))"
      case 3: return "cross_entropy(\(make(x, depth: d)), \(rng.integer(1...k)))"
      case 4: return "\(make(x, depth: d))[\(rng.integer(1...k))]"
      case 5: return "exp(tanh(\(make(.scalar, depth: d))))"
      default:
        return
          "sum(\(make(.matrix(k, dim()), depth: d)), axis: \(rng.pick(["rows", "columns"])))[1]"
      }
    }

    mutating func vector(_ k: Int, _ d: Int) -> String {
      let j = dim()
      switch rng.integer(0...9) {
      case 0: return "(\(make(.matrix(k, j), depth: d)) @ \(make(.vector(j), depth: d)))"
      case 1: return "(\(make(.vector(j), depth: d)) @ \(make(.matrix(j, k), depth: d)))"
      case 2:
        return
          "\(rng.pick(["sum", "mean", "max", "logsumexp", "norm"]))(\(make(.matrix(j, k), depth: d)), axis: rows)"
      case 3:
        return
          "\(rng.pick(["sum", "mean", "max", "logsumexp", "norm"]))(\(make(.matrix(k, j), depth: d)), axis: columns)"
      case 4: return "\(rng.pick(["softmax", "log_softmax"]))(\(make(.vector(k), depth: d)))"
      case 5: return "diag(\(make(.matrix(k, k), depth: d)))"
      case 6: return "\(make(.matrix(3, 3), depth: d))[1:\(k), \(rng.integer(1...3))]"
      case 7:
        return
          "solve(tanh(\(make(.matrix(k, k), depth: d))) + 4 * eye(\(k)), \(make(.vector(k), depth: d)))"
      case 8:
        return k == 2
          ? "concat(\(make(.scalar, depth: d)), \(make(.scalar, depth: d)))"
          : "concat(\(make(.vector(2), depth: d)), \(make(.scalar, depth: d)))"
      default: return "reshape(\(make(k == 2 ? .matrix(1, 2) : .matrix(3, 1), depth: d)), \(k))"
      }
    }

    mutating func matrix(_ r: Int, _ c: Int, _ d: Int) -> String {
      let j = dim()
      switch rng.integer(0...11) {
      case 0: return "(\(make(.matrix(r, j), depth: d)) @ \(make(.matrix(j, c), depth: d)))"
      case 1: return "(\(make(.matrix(j, r), depth: d))' @ \(make(.matrix(j, c), depth: d)))"
      case 2: return "(\(make(.matrix(r, j), depth: d)) @ \(make(.matrix(c, j), depth: d))')"
      case 3: return "\(make(.matrix(c, r), depth: d))'"
      case 4: return "\(rng.pick(["softmax", "log_softmax"]))(\(make(.matrix(r, c), depth: d)))"
      case 5: return "outer(\(make(.vector(r), depth: d)), \(make(.vector(c), depth: d)))"
      case 6: return "(\(make(.matrix(r, c), depth: d)) * \(make(.vector(c), depth: d)))"
      case 7 where r != c:
        return "(col(\(make(.vector(r), depth: d))) - \(make(.matrix(r, c), depth: d)))"
      case 8: return "(\(make(.matrix(r, 1), depth: d)) + \(make(.matrix(1, c), depth: d)))"
      case 9:
        return r == c
          ? "diag(\(make(.vector(r), depth: d)))"
          : "reshape(\(make(.matrix(c, r), depth: d)), \(r), \(c))"
      case 10: return "\(make(.matrix(3, 3), depth: d))[1:\(r), \(4 - c):3]"
      default:
        return r == 3
          ? "concat(\(make(.matrix(2, c), depth: d)), \(make(.matrix(1, c), depth: d)))"
          : "solve(tanh(\(make(.matrix(2, 2), depth: d))) + 4 * eye(2), \(make(.matrix(2, c), depth: d)))"
      }
    }
  }
}
