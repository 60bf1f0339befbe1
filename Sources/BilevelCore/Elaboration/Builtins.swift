import BilevelFrontEnd

/// The built-in functions of the language: how each is called. What each
/// computes is its op (Ops/) or a short expansion into ops (Elaborator+Calls).
enum Builtins {
  struct Signature {
    let name: String
    let positional: ClosedRange<Int>
    let labels: [String]
    /// Generators and loaders: evaluated at compile time, only in data.
    let dataOnly: Bool

    init(_ name: String, _ positional: ClosedRange<Int>, labels: [String] = [], dataOnly: Bool = false) {
      self.name = name
      self.positional = positional
      self.labels = labels
      self.dataOnly = dataOnly
    }
  }

  static let signatures: [Signature] =
    UnaryFunction.allCases.filter { $0 != .negate }.map { Signature($0.rawValue, 1...1) }
    + Reduction.allCases.map { Signature($0.rawValue, 1...1, labels: ["axis"]) }
    + [
      Signature("dot", 2...2),
      Signature("softmax", 1...1), Signature("log_softmax", 1...1),
      Signature("cross_entropy", 2...2), Signature("logistic_loss", 1...1),
      Signature("solve", 2...2), Signature("eye", 1...1),
      Signature("zeros", 1...2), Signature("ones", 1...2),
      Signature("diag", 1...1), Signature("outer", 2...2),
      Signature("concat", 1...64, labels: ["axis"]), Signature("reshape", 2...3),
      Signature("csv", 1...1, dataOnly: true), Signature("npy", 1...1, dataOnly: true),
      Signature("randn", 1...2, labels: ["seed"], dataOnly: true),
      Signature("rand", 1...2, labels: ["seed"], dataOnly: true),
    ]

  /// In declaration order, so "did you mean" is deterministic.
  static let names: [String] = signatures.map(\.name)

  static func signature(_ name: String) -> Signature? { signatures.first { $0.name == name } }
  static func isBuiltin(_ name: String) -> Bool { signature(name) != nil }
}
