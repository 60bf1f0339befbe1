import BilevelFrontEnd

/// The built-in functions of the language: how each is called, and what the
/// reference (`bilevelc help functions`, grammar/REFERENCE.md) says of it.
/// What each computes is its op (Ops/) or a short expansion into ops
/// (Elaborator+Calls); elementwise functions and reductions take their
/// meaning and kink convention from the op table itself.
public enum Builtins {
  public struct Signature: Sendable {
    public let name: String
    let positional: ClosedRange<Int>
    public let labels: [String]
    /// Generators and loaders: evaluated at compile time, only in data.
    public let dataOnly: Bool
    /// How it is written, e.g. `dot(x, y)`.
    public let usage: String
    /// Argument and result shapes.
    public let shapes: String
    public let doc: String
    /// The derivative taken at points where the function is not differentiable.
    public let kinkConvention: String?

    init(
      _ name: String, _ positional: ClosedRange<Int>, labels: [String] = [], dataOnly: Bool = false,
      usage: String, shapes: String, doc: String, kink: String? = nil
    ) {
      self.name = name
      self.positional = positional
      self.labels = labels
      self.dataOnly = dataOnly
      self.usage = usage
      self.shapes = shapes
      self.doc = doc
      self.kinkConvention = kink
    }
  }

  static let axisShapes =
    "any → scalar; with axis: rows, matrix[m, n] → vector[n] (one per column); with axis: columns, → vector[m] (one per row)"

  public static let signatures: [Signature] =
    UnaryFunction.allCases.filter { $0 != .negate }.map {
      Signature(
        $0.rawValue, 1...1, usage: "\($0.rawValue)(x)",
        shapes: "any shape → the same shape, entrywise",
        doc: $0.doc, kink: $0.kinkConvention)
    }
    + Reduction.allCases.map { r in
      let name = r.rawValue
      guard let f = r.entrywise else {
        return Signature(
          name, 1...1, labels: ["axis"], usage: "\(name)(x) | \(name)(X, axis: rows|columns)",
          shapes: axisShapes, doc: r.doc, kink: r.kinkConvention)
      }
      return Signature(
        name, 1...2, labels: ["axis"],
        usage: "\(name)(x) | \(name)(X, axis: rows|columns) | \(name)(a, b)",
        shapes: axisShapes
          + "; of two arguments, a and b of one shape (or broadcast) → that shape, entrywise",
        doc:
          "\(r.doc); of two arguments the \(f == .maximum ? "larger" : "smaller") of a and b, entry by entry",
        kink: "\(r.kinkConvention!); of two arguments \(f.kinkConvention!)")
    }
    + [
      Signature(
        "argmax", 1...1, labels: ["axis"], usage: "argmax(x) | argmax(X, axis: rows|columns)",
        shapes: axisShapes,
        doc:
          "1-based position of the first largest entry (a matrix's entries counted row by row); not differentiable, so refused in losses and fixpoint maps (use it in report and data)",
        kink: "derivative 0 (it is piecewise constant)"),
      Signature(
        "dot", 2...2, usage: "dot(x, y)", shapes: "vector[n], vector[n] → scalar",
        doc: "inner product; '@' for matrices"),
      Signature(
        "softmax", 1...1, usage: "softmax(z)",
        shapes: "vector[n] → vector[n]; matrix → matrix, row by row",
        doc: "eᶻ / Σ eᶻ, shifted by the maximum"),
      Signature(
        "log_softmax", 1...1, usage: "log_softmax(z)", shapes: "as softmax",
        doc: "z − logsumexp(z), row by row on matrices"),
      Signature(
        "cross_entropy", 2...2, labels: ["base"],
        usage: "cross_entropy(Z, Y) | cross_entropy(Z, y, base: 0)",
        shapes: "matrix[m, k] logits → vector[m] (one loss per row); vector[k] → scalar",
        doc:
          "−Σ Y log_softmax(Z); Y holds probabilities of Z's shape, or class numbers known at compile time (1..k; 0..k−1 with base: 0)"
      ),
      Signature(
        "binary_cross_entropy", 2...2, usage: "binary_cross_entropy(z, y)",
        shapes: "z and y of one shape (or y broadcast) → z's shape, entrywise",
        doc: "log(1 + eᶻ) − y·z: the loss of logits z for 0/1 labels y, stable for any z"),
      Signature(
        "logistic_loss", 1...1, usage: "logistic_loss(m)",
        shapes: "any shape → the same shape, entrywise",
        doc: "log(1 + e⁻ᵐ) of margins m, stable for any m"),
      Signature(
        "solve", 2...2, usage: "solve(A, b)",
        shapes: "matrix[n, n], vector[n] or matrix[n, k] → b's shape",
        doc: "A⁻¹ b by an LU factorisation with partial pivoting"),
      Signature("eye", 1...1, usage: "eye(n)", shapes: "→ matrix[n, n]", doc: "the identity"),
      Signature(
        "zeros", 1...2, usage: "zeros(n) | zeros(m, n)", shapes: "→ vector[n] or matrix[m, n]",
        doc: "all 0"),
      Signature(
        "ones", 1...2, usage: "ones(n) | ones(m, n)", shapes: "→ vector[n] or matrix[m, n]",
        doc: "all 1"),
      Signature(
        "diag", 1...1, usage: "diag(v) | diag(A)",
        shapes: "vector[n] → matrix[n, n]; matrix[n, n] → vector[n]",
        doc: "the diagonal matrix of v, or the diagonal of A"),
      Signature(
        "row", 1...1, usage: "row(v)", shapes: "vector[n] → matrix[1, n]",
        doc: "v as one row: X * row(v) scales column j by v[j] (what X * v does)"),
      Signature(
        "col", 1...1, usage: "col(v)", shapes: "vector[m] → matrix[m, 1]",
        doc: "v as one column: X * col(v) scales row i by v[i]"),
      Signature(
        "outer", 2...2, usage: "outer(u, v)", shapes: "vector[m], vector[n] → matrix[m, n]",
        doc: "u vᵀ"),
      Signature(
        "concat", 1...64, labels: ["axis"],
        usage: "concat(a, b, …) | concat(A, B, …, axis: rows|columns)",
        shapes:
          "vectors → one vector; matrices stacked as new rows (axis: rows, the default) or new columns (axis: columns)",
        doc: "joins its arguments in order"),
      Signature(
        "reshape", 2...3, usage: "reshape(x, n) | reshape(x, m, n)",
        shapes: "any shape with m·n entries → vector[n] or matrix[m, n]",
        doc: "the same entries in row-major order"),
      Signature(
        "csv", 1...1, labels: ["rows", "columns"], dataOnly: true,
        usage: "csv(\"file.csv\") | csv(\"file.csv\", rows: m, columns: n)",
        shapes: "→ vector (one column) or matrix",
        doc:
          "numbers separated by commas, semicolons or runs of spaces and tabs (numpy's savetxt), detected per file and named by explain; a first row is a header when its non-numeric fields are words (start with a letter or _), and a malformed number there (1_000, −1.5, \"1,2\") is an error; rows: and columns: (optional) are checked against the file's data rows and columns (a one-column file has 1 column); so is a declared dim that a type on the data line or a use ties to the file (w: vector[d] in X @ w, X + A with A: matrix[n, d]): a mismatch is an error at the csv call naming the file's size and the dim"
      ),
      Signature(
        "npy", 1...1, dataOnly: true, usage: "npy(\"file.npy\")",
        shapes: "→ scalar, vector or matrix",
        doc: "a NumPy array: float and integer dtypes, either byte order, C or Fortran order"),
      Signature(
        "randn", 1...2, labels: ["seed"], dataOnly: true,
        usage: "randn(n, seed: k) | randn(m, n, seed: k)",
        shapes: "→ vector[n] or matrix[m, n]",
        doc: "standard normal draws, the same bits on every machine (README: Random data)"),
      Signature(
        "rand", 1...2, labels: ["seed"], dataOnly: true,
        usage: "rand(n, seed: k) | rand(m, n, seed: k)",
        shapes: "→ vector[n] or matrix[m, n]",
        doc: "uniform draws in [0, 1), the same bits on every machine"),
    ]

  /// In declaration order, so "did you mean" is deterministic.
  static let names: [String] = signatures.map(\.name)

  static func signature(_ name: String) -> Signature? { signatures.first { $0.name == name } }
  static func isBuiltin(_ name: String) -> Bool { signature(name) != nil }
}
