import BilevelCore
import BilevelFrontEnd
import TestSupport

/// The per-op derivative cases. Linear ops are wrapped as sin(op(...)) so
/// that second derivatives run through both the op's forward rule and the
/// forward rule of its adjoint. `DerivativeOpTests.everyOpHasACase` checks
/// this table covers every op, function, reduction axis and builtin.
enum DerivativeOpCases {
  static let all: [OpCase] =
    unary + binary + structural + linearAlgebra + reductions + argmax + softmax + tasks + sharing

  static let unary: [OpCase] = UnaryFunction.allCases.map { f in
    OpCase("unary \(f.name)", [.matrix("X", .m, .n, Domain(f.testDomain))]) { _ in
      f == .negate ? "-X" : "\(f.name)(X)"
    }
  }

  /// Each binary function on equal shapes and with every broadcasting form.
  static let binary: [OpCase] =
    BinaryFunction.allCases.flatMap { f -> [OpCase] in
      let (l, r) = (Domain(f.testDomains.0), Domain(f.testDomains.1))
      // Infix `X + Y`, or called `max(X, Y)`; max and min are smooth away from
      // ties, which independent normal draws do not hit.
      let w = f.written
      return [
        OpCase("\(f) matrix∘matrix", [.matrix("X", .m, .n, l), .matrix("Y", .m, .n, r)]) { _ in
          w("X", "Y")
        },
        OpCase("\(f) scalar∘matrix", [.scalar("a", l), .matrix("X", .m, .n, r)]) { _ in w("a", "X")
        },
        OpCase("\(f) matrix∘scalar", [.matrix("X", .m, .n, l), .scalar("a", r)]) { _ in w("X", "a")
        },
        OpCase("\(f) vector∘scalar", [.vector("x", .n, l), .scalar("a", r)]) { _ in w("x", "a") },
        OpCase("\(f) matrix∘row vector", [.matrix("X", .m, .n, l), .vector("r", .n, r)]) { _ in
          w("X", "r")
        },
        OpCase("\(f) col(vector)∘matrix", [.vector("u", .m, l), .matrix("X", .m, .n, r)]) { _ in
          w("col(u)", "X")
        },
        OpCase("\(f) matrix∘[m,1]", [.matrix("X", .m, .n, l), .matrix("P", .m, .fixed(1), r)]) {
          _ in w("X", "P")
        },
        OpCase("\(f) [1,n]∘matrix", [.matrix("Q", .fixed(1), .n, l), .matrix("X", .m, .n, r)]) {
          _ in w("Q", "X")
        },
        OpCase(
          "\(f) [m,1]∘[1,n]", [.matrix("P", .m, .fixed(1), l), .matrix("Q", .fixed(1), .n, r)]
        ) { _ in w("P", "Q") },
      ]
    } + [
      OpCase("power with a constant exponent", [.matrix("X", .m, .n)]) { _ in "X^3" },
      OpCase("power with a negative constant exponent", [.matrix("X", .m, .n, .positive)]) { _ in
        "X^-1.5"
      },
      OpCase("power with a constant base", [.vector("x", .n)]) { _ in "2^x" },
      // On a square matrix a vector broadcasts as a row (numpy's rule).
      OpCase(
        "multiply square matrix∘vector", [.matrix("X", .n, .n), .vector("r", .n)], sizes: square
      ) { _ in "X * r" },
      OpCase(
        "divide vector∘square matrix", [.vector("r", .n), .matrix("X", .n, .n, .positive)],
        sizes: square
      ) { _ in "r / X" },
    ]

  static let square = [Sizes(m: 2, n: 2, p: 2), Sizes(m: 3, n: 3, p: 2), Sizes(m: 4, n: 4, p: 3)]

  /// One operand used several times: adjoints add up, and the rewriter's
  /// x + x, x * x forms meet the derivative rules.
  static let sharing: [OpCase] = [
    OpCase("sum of a value with itself", [.vector("x", .n)]) { _ in "sin(x) + sin(x) + x * x" },
    OpCase("difference of a value with itself", [.vector("x", .n)]) { _ in
      "tanh(x) - tanh(x) + x / x + x"
    },
    OpCase("matmul of a matrix with itself", [.matrix("A", .m, .m)]) { _ in "A @ A + A' @ A" },
    OpCase("dot of a vector with itself", [.vector("x", .n)]) { _ in "dot(x, x) * x" },
    OpCase("solve with the same matrix twice", [.matrix("A", .m, .m, .wellConditioned)]) { s in
      "solve(A, A[:, 1] + 1) + solve(A', sin(A[1, :]))"
    },
  ]

  /// sin(broadcast(tanh(v))) to the given shape: the broadcast op itself.
  static func broadcast(
    _ name: String, _ operand: Operand, to shape: @escaping @Sendable (Sizes) -> Shape
  ) -> OpCase {
    OpCase(
      "broadcast op: \(name)", [operand],
      post: { g, y, s in
        g.make(.unary(.sin), [g.make(.broadcast, [y], shape: shape(s))])
      }
    ) { _ in "tanh(\(operand.name))" }
  }

  static let slicing = [Sizes(m: 2, n: 3, p: 2), Sizes(m: 3, n: 4, p: 2), Sizes(m: 4, n: 5, p: 3)]

  static let structural: [OpCase] = [
    OpCase("transpose of a matrix", [.matrix("X", .m, .n)]) { _ in "sin(X')" },
    OpCase("transpose of a vector", [.vector("x", .n)]) { _ in "sin(x') * x" },
    broadcast("scalar to matrix", .scalar("a")) { .matrix($0.m, $0.n) },
    broadcast("scalar to vector", .scalar("a")) { .vector($0.n) },
    broadcast("row vector to matrix", .vector("r", .n)) { .matrix($0.m, $0.n) },
    broadcast("column vector to matrix", .vector("u", .m)) { .matrix($0.m, $0.n) },
    broadcast("[1,n] to matrix", .matrix("Q", .fixed(1), .n)) { .matrix($0.m, $0.n) },
    broadcast("[m,1] to matrix", .matrix("P", .m, .fixed(1))) { .matrix($0.m, $0.n) },
    OpCase("reshape matrix to vector", [.matrix("X", .m, .n)]) { s in
      "sin(reshape(X, \(s.m * s.n)))"
    },
    OpCase("reshape vector to matrix", [.vector("x", .mn)]) { s in "sin(reshape(x, \(s.m), \(s.n)))"
    },
    OpCase("reshape matrix to matrix", [.matrix("X", .m, .n)]) { s in
      "sin(reshape(X, \(s.n), \(s.m)))"
    },
    OpCase("index of a vector", [.vector("x", .n)], sizes: slicing, edges: []) { _ in
      "sin(x[2]) * x"
    },
    OpCase("slice of a vector", [.vector("x", .n)], sizes: slicing, edges: []) { s in
      "sin(x[2:\(s.n - 1)])"
    },
    OpCase("open slices of a vector", [.vector("x", .n)], sizes: slicing, edges: []) { s in
      "sin(x[:\(s.n - 1)]) + x[2:]"
    },
    OpCase("row of a matrix", [.matrix("X", .m, .n)], sizes: slicing, edges: []) { _ in
      "sin(X[2, :])"
    },
    OpCase("row shorthand A[i]", [.matrix("X", .m, .n)], sizes: slicing, edges: []) { _ in
      "sin(X[1])"
    },
    OpCase("column of a matrix", [.matrix("X", .m, .n)], sizes: slicing, edges: []) { _ in
      "sin(X[:, 2])"
    },
    OpCase("entry of a matrix", [.matrix("X", .m, .n)], sizes: slicing, edges: []) { _ in
      "sin(X[2, 2]) * X"
    },
    OpCase("block of a matrix", [.matrix("X", .m, .n)], sizes: slicing, edges: []) { s in
      "sin(X[2:\(s.m), 2:\(s.n - 1)])"
    },
    OpCase("row block of a matrix", [.matrix("X", .m, .n)], sizes: slicing, edges: []) { s in
      "sin(X[1:\(s.m - 1), :])"
    },
    OpCase("concat of vectors", [.vector("x", .n), .vector("y", .p)]) { _ in
      "sin(concat(x, tanh(y), x))"
    },
    OpCase("concat along axis 0", [.matrix("X", .m, .n), .matrix("Y", .p, .n)]) { _ in
      "sin(concat(X, Y))"
    },
    OpCase("concat along axis 1", [.matrix("X", .m, .n), .matrix("Y", .m, .p)]) { _ in
      "sin(concat(X, tanh(Y), axis: columns))"
    },
    OpCase("vector literal of expressions", [.vector("x", .n), .scalar("a")], edges: []) { _ in
      "sin([x[1], a, x[2] * a])"
    },
    OpCase("matrix literal of expressions", [.scalar("a"), .scalar("b")]) { _ in
      "sin([[a, b], [b, a * a], [1, a]])"
    },
    OpCase("diag of a vector", [.vector("x", .n)]) { _ in "sin(diag(x)) + diag(x)^2" },
    OpCase("diag of a matrix", [.matrix("A", .m, .m)]) { _ in "sin(diag(A))" },
    OpCase("constant builtins", [.matrix("A", .m, .m)]) { s in
      "sin(A + eye(\(s.m))) * ones(\(s.m), \(s.m)) + zeros(\(s.m))"
    },
  ]

  static let linearAlgebra: [OpCase] = [
    OpCase("matmul matrix@matrix", [.matrix("A", .m, .p), .matrix("B", .p, .n)]) { _ in "A @ B" },
    OpCase("matmul matrix@vector", [.matrix("A", .m, .p), .vector("x", .p)]) { _ in "A @ x" },
    OpCase("matmul vector@matrix", [.vector("x", .m), .matrix("A", .m, .n)]) { _ in "x @ A" },
    OpCase("matmul vector@vector", [.vector("x", .n), .vector("y", .n)]) { _ in "x @ y" },
    OpCase("matmul A'@B", [.matrix("A", .p, .m), .matrix("B", .p, .n)]) { _ in "A' @ B" },
    OpCase("matmul A@B'", [.matrix("A", .m, .p), .matrix("B", .n, .p)]) { _ in "A @ B'" },
    OpCase("matmul A'@B'", [.matrix("A", .p, .m), .matrix("B", .n, .p)]) { _ in "A' @ B'" },
    OpCase("matmul A'@x", [.matrix("A", .p, .m), .vector("x", .p)]) { _ in "A' @ x" },
    OpCase("matmul x@B'", [.vector("x", .p), .matrix("B", .n, .p)]) { _ in "x @ B'" },
    OpCase("matmul inside a nonlinearity", [.matrix("A", .m, .p), .matrix("B", .n, .p)]) { _ in
      "tanh(A @ B')'"
    },
    OpCase("dot", [.vector("x", .n), .vector("y", .n)]) { _ in "dot(x, y)" },
    OpCase("outer", [.vector("x", .m), .vector("y", .n)]) { _ in "outer(x, y)" },
    OpCase("solve with a vector", [.matrix("A", .m, .m, .wellConditioned), .vector("b", .m)]) { _ in
      "solve(A, b)"
    },
    OpCase("solve with a matrix", [.matrix("A", .m, .m, .wellConditioned), .matrix("B", .m, .n)]) {
      _ in "solve(A, B)"
    },
    OpCase(
      "solve with a transposed matrix", [.matrix("A", .m, .m, .wellConditioned), .vector("b", .m)]
    ) { _ in
      "sin(solve(A', b))"
    },
  ]

  /// Every reduction over every valid axis of vectors and matrices.
  static let reductions: [OpCase] = Reduction.allCases.flatMap { r -> [OpCase] in
    let d: Domain = r == .max || r == .min ? .separated : .real
    let f = r.rawValue
    // The norm of one entry is |x|: its Hessian is 0, which a relative
    // check of rounding noise cannot confirm, so norm's only edge is square.
    let edges = r == .norm ? [Sizes(m: 3, n: 3, p: 2)] : OpCase.edgeSizes
    return [
      OpCase("\(f) of a vector", [.vector("x", .n, d)], edges: edges) { _ in "\(f)(x)" },
      OpCase("\(f) of a vector, axis 0", [.vector("x", .n, d)], edges: edges) { _ in
        "\(f)(x, axis: rows)"
      },
      OpCase("\(f) of a matrix", [.matrix("X", .m, .n, d)], edges: edges) { _ in "\(f)(X)" },
      OpCase("\(f) of a matrix, axis 0", [.matrix("X", .m, .n, d)], edges: edges) { _ in
        "\(f)(X, axis: rows)"
      },
      OpCase("\(f) of a matrix, axis 1", [.matrix("X", .m, .n, d)], edges: edges) { _ in
        "\(f)(X, axis: columns)"
      },
    ]
  }

  /// argmax is piecewise constant: x ⊙ argmax(x) has derivative argmax(x)
  /// away from ties, and argmax contributes nothing of its own.
  static let argmax: [OpCase] = [
    OpCase("argmax of a vector", [.vector("x", .n, .separated)]) { _ in "x * argmax(x)" },
    OpCase("argmax of a matrix", [.matrix("X", .m, .n, .separated)]) { _ in "X * argmax(X)" },
    OpCase("argmax of a matrix, axis 0", [.matrix("X", .m, .n, .separated)]) { _ in
      "X * argmax(X, axis: rows)"
    },
    OpCase("argmax of a matrix, axis 1", [.matrix("X", .m, .n, .separated)]) { _ in
      "col(argmax(X, axis: columns)) * sin(X)"
    },
  ]

  /// Class labels 1...n for m rows, all classes used when m ≥ n.
  static func labels(_ s: Sizes) -> String {
    "[" + (0..<s.m).map { "\($0 % s.n + 1)" }.joined(separator: ", ") + "]"
  }

  static let softmax: [OpCase] = [
    OpCase("softmax of a vector", [.vector("x", .n)]) { _ in "softmax(x)" },
    OpCase("softmax of a matrix", [.matrix("X", .m, .n)]) { _ in "softmax(X)" },
    OpCase("log_softmax of a vector", [.vector("x", .n)]) { _ in "log_softmax(x)" },
    OpCase("log_softmax of a matrix", [.matrix("X", .m, .n)]) { _ in "log_softmax(X)" },
    OpCase("cross_entropy, vector logits, class number", [.vector("z", .n)]) { s in
      "cross_entropy(z, \(s.n))"
    },
    OpCase("cross_entropy, matrix logits, class numbers", [.matrix("Z", .m, .n)]) { s in
      "cross_entropy(Z, \(labels(s)))"
    },
    OpCase(
      "cross_entropy, vector logits, probabilities",
      [.vector("z", .n), .vector("q", .n, .positive)]
    ) { _ in
      "cross_entropy(z, q)"
    },
    OpCase(
      "cross_entropy, matrix logits, probabilities",
      [.matrix("Z", .m, .n), .matrix("P", .m, .n, .positive)]
    ) { _ in
      "cross_entropy(Z, P)"
    },
    OpCase("logistic_loss of a vector", [.vector("x", .n)]) { _ in "logistic_loss(x)" },
    OpCase("logistic_loss of a matrix", [.matrix("X", .m, .n)]) { _ in "logistic_loss(X)" },
    OpCase("cross_entropy, 0-based class numbers", [.matrix("Z", .m, .n)]) { s in
      "cross_entropy(Z, [\((0..<s.m).map { String($0 % s.n) }.joined(separator: ", "))], base: 0)"
    },
    // Both operands: the labels' derivative (−z) matters for label learning.
    OpCase(
      "binary_cross_entropy of logits and labels", [.vector("z", .n), .vector("y", .n, .positive)]
    ) { _ in
      "binary_cross_entropy(z, y)"
    },
    OpCase("row and col of vectors", [.vector("x", .n), .vector("u", .m)]) { _ in
      "sin(row(x) * col(u))"
    },
  ]

  /// Task reductions over per-task data, differentiated in shared data.
  static let tasks: [OpCase] = [
    OpCase(
      "mean over tasks", [.vector("W", .n)],
      setup: { s in ["tasks t in 1..3", "data a[t] = randn(\(s.n), seed: t)"] }
    ) { _ in
      "mean over t: tanh(W * a[t])"
    },
    OpCase(
      "sum over tasks", [.vector("W", .n), .scalar("b")],
      setup: { s in ["tasks t in 1..3", "data B[t] = randn(\(s.n), \(s.m), seed: t)"] }
    ) { _ in
      "sum over t: sin(W @ B[t] + b * t)"
    },
  ]
}
