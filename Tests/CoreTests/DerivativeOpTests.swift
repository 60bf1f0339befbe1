import Foundation
import TestSupport
import Testing

@testable import BilevelCore

/// Every derivative rule against central differences and against itself
/// (forward vs reverse, first vs second order), op by op. The table is
/// DerivativeOpCases; the battery of checks is DerivativeBattery.
@Suite struct DerivativeOpTests {
  @Test(arguments: DerivativeOpCases.all)
  func derivativesOf(_ c: OpCase) throws {
    var checks: [Comparison] = []
    defer { CheckTally.opCases.add(checks, of: DerivativeOpCases.all.count) }
    for p in 0..<c.points {
      var h = try c.harness(point: p)
      let results = DerivativeBattery.run(&h, seed: TestRandom.seed(c.name, 1000 + p))
      for r in results where !r.passed {
        let (simplify, unsafe) = c.form(at: p)
        Issue.record(
          "\(c.name) at point \(p) (\(c.sizes(at: p)), \(simplify ? "simplified" : "as elaborated")\(unsafe ? ", unsafe math" : "")): \(r)"
        )
      }
      checks += results
    }
  }

  /// Adding an op, a function, a reduction axis or a builtin without a case
  /// here fails: coverage is read off the graphs the cases differentiate.
  @Test func everyOpHasACase() throws {
    var found = Set<String>()
    var texts: [String] = []
    for c in DerivativeOpCases.all {
      for p in 0..<c.points {
        let h = try c.harness(point: p)
        found.formUnion(Self.features(h.graph, root: h.output, wrt: h.leaves.map(\.node)))
        texts.append(c.text(c.sizes(at: p)))
      }
    }
    let leafKinds: Set<OpKind> = [.constant, .literal, .data, .variable, .input]
    var required = Set(
      OpKind.allCases.filter { !leafKinds.contains($0) }.map { "kind \($0.rawValue)" })
    for f in UnaryFunction.allCases { required.insert("unary \(f.rawValue)") }
    for f in BinaryFunction.allCases {
      for k in 0..<2 { required.insert("binary \(f.rawValue) operand \(k)") }
    }
    for r in Reduction.allCases {
      for (axis, rank) in [("all", 1), ("all", 2), ("rows", 1), ("rows", 2), ("columns", 2)] {
        required.insert("reduce \(r.rawValue) \(axis) rank \(rank)")
      }
    }
    for form in ["NN 2x2", "NN 2x1", "NN 1x2", "NN 1x1", "TN 2x2", "NT 2x2", "TT 2x2"] {
      required.insert("matmul \(form)")
    }
    for k in 0..<2 {
      required.insert("matmul operand \(k)")
      required.insert("solve operand \(k)")
    }
    required.formUnion([
      "solve rhs rank 1", "solve rhs rank 2", "concat rank 1 axis 0", "concat rank 2 axis 0",
      "concat rank 2 axis 1",
      "diag 1→2", "diag 2→1", "softmax rank 1", "softmax rank 2", "logSoftmax rank 1",
      "logSoftmax rank 2",
      "slice 1→0", "slice 1→1", "slice 2→0", "slice 2→1", "slice 2→2", "reshape 1→2", "reshape 2→1",
      "reshape 2→2",
      "transpose rank 1", "transpose rank 2", "taskReduce mean", "taskReduce sum",
      "argmax all rank 1", "argmax all rank 2", "argmax rows rank 2", "argmax columns rank 2",
    ])
    // A vector operand always goes with a matrix's columns in the language
    // (col(v) gives the [m,1] form), so only the broadcast op repeats a
    // vector down a column.
    for role in ["scalar", "row vector", "[1,n]", "[m,1]"] {
      required.insert("binary operand broadcast as \(role)")
    }
    for role in ["scalar", "row vector", "column vector", "[1,n]", "[m,1]"] {
      required.insert("broadcast op from \(role)")
    }
    let missing = required.subtracting(found).sorted()
    #expect(missing.isEmpty, "no derivative case for: \(missing)")
    let uncalled = Builtins.signatures.filter { b in
      !b.dataOnly && !texts.contains { Self.calls($0, b.name) }
    }.map(\.name)
    #expect(uncalled.isEmpty, "no derivative case calls: \(uncalled)")
  }

  /// Whether `text` calls `name(`, not as the tail of a longer name.
  static func calls(_ text: String, _ name: String) -> Bool {
    var rest = text[...]
    while let r = rest.range(of: name + "(") {
      let before = rest[..<r.lowerBound].last
      if before.map({ !($0.isLetter || $0.isNumber || $0 == "_") }) ?? true { return true }
      rest = rest[r.upperBound...]
    }
    return false
  }

  /// What the graph exercises, for the coverage check.
  static func features(_ g: Graph, root: NodeID, wrt: [NodeID]) -> Set<String> {
    let order = g.reachable(from: [root])
    var active = [Bool](repeating: false, count: g.count)
    for w in wrt { active[w.index] = true }
    for id in order where !active[id.index] {
      active[id.index] = g[id].inputs.contains { active[$0.index] }
    }
    func rank(_ id: NodeID) -> Int { g.shape(id).rank }
    func role(_ from: Shape, in to: Shape) -> String? {
      switch BroadcastRole.of(from, in: to) {
      case .scalar?: return "scalar"
      case .row?: return from.isMatrix ? "[1,n]" : "row vector"
      case .column?: return from.isMatrix ? "[m,1]" : "column vector"
      case .same?, nil: return nil
      }
    }
    var out = Set<String>()
    for id in order {
      let node = g[id]
      if node.op.isLeaf { continue }
      out.insert("kind \(node.op.kind.rawValue)")
      let inputs = node.inputs
      switch node.op {
      case .unary(let f): out.insert("unary \(f.rawValue)")
      case .binary(let f):
        for (k, x) in inputs.enumerated() where active[x.index] {
          out.insert("binary \(f.rawValue) operand \(k)")
        }
        for x in inputs {
          if let r = role(g.shape(x), in: node.shape) {
            out.insert("binary operand broadcast as \(r)")
          }
        }
      case .broadcast:
        if let r = role(g.shape(inputs[0]), in: node.shape) { out.insert("broadcast op from \(r)") }
      case .reduce(let r, let axis):
        out.insert("reduce \(r.rawValue) \(axis) rank \(rank(inputs[0]))")
      case .argmax(let axis): out.insert("argmax \(axis) rank \(rank(inputs[0]))")
      case .matmul(let tl, let tr):
        out.insert(
          "matmul \(tl ? "T" : "N")\(tr ? "T" : "N") \(rank(inputs[0]))x\(rank(inputs[1]))")
        for (k, x) in inputs.enumerated() where active[x.index] {
          out.insert("matmul operand \(k)")
        }
      case .solve:
        out.insert("solve rhs rank \(rank(inputs[1]))")
        for (k, x) in inputs.enumerated() where active[x.index] { out.insert("solve operand \(k)") }
      case .concat(let axis): out.insert("concat rank \(node.shape.rank) axis \(axis)")
      case .diag: out.insert("diag \(rank(inputs[0]))→\(node.shape.rank)")
      case .slice: out.insert("slice \(rank(inputs[0]))→\(node.shape.rank)")
      case .reshape: out.insert("reshape \(rank(inputs[0]))→\(node.shape.rank)")
      case .transpose: out.insert("transpose rank \(rank(inputs[0]))")
      case .softmax, .logSoftmax: out.insert("\(node.op.kind.rawValue) rank \(node.shape.rank)")
      case .taskReduce(let r): out.insert("taskReduce \(r.rawValue)")
      case .constant, .literal, .data, .variable, .input: break
      }
    }
    return out
  }
}

/// Adds up checks across the parallel cases of a parameterized test and
/// prints the total, and the worst error per kind of check as a fraction of
/// its tolerance, when the last case finishes.
final class CheckTally: @unchecked Sendable {
  static let opCases = CheckTally("per-op derivative checks")
  let label: String
  let lock = NSLock()
  var checks = 0
  var cases = 0
  var worst: [String: Double] = [:]

  init(_ label: String) { self.label = label }

  func add(_ results: [Comparison], of total: Int) {
    lock.lock()
    checks += results.count
    cases += 1
    for r in results { worst[r.kind] = max(worst[r.kind] ?? 0, r.usage) }
    let (done, sum, count, usage) = (cases == total, checks, cases, worst)
    lock.unlock()
    guard done else { return }
    print("\(label): \(sum) checks over \(count) cases")
    for (kind, u) in usage.sorted(by: { $0.key < $1.key }) {
      print("  worst \(kind): \(String(format: "%.2g", u)) of the error allowed")
    }
  }
}
