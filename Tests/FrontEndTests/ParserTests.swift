import Testing

@testable import BilevelFrontEnd

@Suite struct ParserPrecedenceTests {
  @Test(arguments: [
    ("-x^2", "(neg (^ x 2))"),
    ("a-b-c", "(- (- a b) c)"),
    ("a/b/c", "(/ (/ a b) c)"),
    ("a^b^c", "(^ a (^ b c))"),
    ("2*-x", "(* 2 (neg x))"),
    ("x^-1", "(^ x (neg 1))"),
    ("-2^-3^2", "(neg (^ 2 (neg (^ 3 2))))"),
    ("A'@B'", "(@ (' A) (' B))"),
    ("-x'", "(neg (' x))"),
    ("x'^2", "(^ (' x) 2)"),
    ("a+b*c", "(+ a (* b c))"),
    ("a*b+c", "(+ (* a b) c)"),
    ("a*b/c@d", "(@ (/ (* a b) c) d)"),
    ("a-b*c^d", "(- a (* b (^ c d)))"),
    ("(a+b)*c", "(* (+ a b) c)"),
    ("--x", "(neg (neg x))"),
    ("a--b", "(- a (neg b))"),
    ("-a*b", "(* (neg a) b)"),
    ("x[1]'[2:3]", "(index (' (index x 1)) (: 2 3))"),
    ("f(x)[1, :]'", "(' (index (call f x) 1 :))"),
    ("A[i]", "(index A i)"),
    ("A[:, j]", "(index A : j)"),
    ("x[2:]", "(index x (: 2 _))"),
    ("x[:3]", "(index x (: _ 3))"),
    ("x''", "(' (' x))"),
    ("mean over t: a + b", "(mean-over t (+ a b))"),
    ("mean over t: a + b * c", "(mean-over t (+ a (* b c)))"),
    ("f()", "(call f)"),
    ("f(a, b + c, axis: 0)", "(call f a (+ b c) (axis: 0))"),
    ("[1, 2, 3]", "[1 2 3]"),
    ("[[1, 2], [3, 4]]", "[[1 2] [3 4]]"),
    ("[1, 2,]", "[1 2]"),
    ("\"a.csv\"", "\"a.csv\""),
    ("1_000 + .5 + 1e-10", "(+ (+ 1_000 .5) 1e-10)"),
  ])
  func grouping(_ source: String, _ expected: String) {
    #expect(FE.expr(source) == expected, "\(source)")
  }

  @Test func precedenceLevelsFollowTheTable() {
    // Every infix pair: the looser operator ends up at the root.
    let infix = OperatorTable.levels.filter { $0.fixity == .leftInfix || $0.fixity == .rightInfix }
    for (i, loose) in infix.enumerated() {
      for tight in infix[(i + 1)...] {
        for a in loose.operators {
          for b in tight.operators {
            #expect(FE.expr("x \(a) y \(b) z") == "(\(a) x (\(b) y z))")
            #expect(FE.expr("x \(b) y \(a) z") == "(\(a) (\(b) x y) z)")
          }
        }
      }
    }
  }
}

@Suite struct ParserStatementTests {
  @Test func everyStatementForm() {
    let program = """
      dim n = 200, d = 20
      tasks t in 1..5
      data X = randn(n, d, seed: 1)
      data Y: matrix[n, d] = csv("y.csv")
      data xs[t] = csv("sin/xs_{t}.csv")
      data s: scalar = 2
      outer loglam: scalar = 0 in [-5, 5]
      outer W: matrix[1, 40] = 0.1 * randn(1, 40, seed: 0)
      inner w: vector[d] = 0
      inner V[t]: matrix[1, 40] = W
      let h = X @ w
      let g[t] = xs[t] + 1
      def f(a, b) = a * b'
      def c() = 1
      inner loss = mean((X @ w - y)^2) + exp(loglam) * sum(w^2)
      inner loss[t] = sum(V[t])
      inner fixpoint z = tanh(W @ z)
      inner fixpoint z[t] = z[t]
      outer loss = mean over t: norm(V[t])
      solve inner with gd(lr: 0.05, steps: 300)
      hypergradient with implicit(cg, iters: 20)
      hypergradient with first_order
      solve outer with adam(lr: exp(a), steps: 40)

      """
    let expected = """
      1:1 (dim (n 200) (d 20))
      2:1 (tasks t 1 5)
      3:1 (data X (call randn n d (seed: 1)))
      4:1 (data Y (matrix n d) (call csv "y.csv"))
      5:1 (data (xs [t]) (call csv "sin/xs_{t}.csv"))
      6:1 (data s scalar 2)
      7:1 (outer loglam scalar 0 (in (neg 5) 5))
      8:1 (outer W (matrix 1 40) (* 0.1 (call randn 1 40 (seed: 0))))
      9:1 (inner w (vector d) 0)
      10:1 (inner (V [t]) (matrix 1 40) W)
      11:1 (let h (@ X w))
      12:1 (let (g [t]) (+ (index xs t) 1))
      13:1 (def f (a b) (* a (' b)))
      14:1 (def c () 1)
      15:1 (inner-loss (+ (call mean (^ (- (@ X w) y) 2)) (* (call exp loglam) (call sum (^ w 2)))))
      16:1 (inner-loss [t] (call sum (index V t)))
      17:1 (inner-fixpoint z (call tanh (@ W z)))
      18:1 (inner-fixpoint (z [t]) (index z t))
      19:1 (outer-loss (mean-over t (call norm (index V t))))
      20:1 (solve inner (gd (lr: 0.05) (steps: 300)))
      21:1 (hypergradient (implicit cg (iters: 20)))
      22:1 (hypergradient (first_order))
      23:1 (solve outer (adam (lr: (call exp a)) (steps: 40)))

      """
    #expect(FE.ast(program) == expected)
  }

  @Test func statementPositionsSkipBlankLinesAndIndentation() {
    #expect(FE.ast("\n\n  # c\n   let a = 1 # trailing\n\n") == "4:4 (let a 1)\n")
  }

  @Test func newlinesContinueInsideBrackets() {
    let source = """
      let a = f(1,
                2,
                3)
      let b = [1,
               2]
      let c = (x
        + y)
      let d = x[1,
                2]
      outer w: vector[
        3] = 0 in [
        -1, 1]
      solve inner with gd(
        lr: 0.1,
        steps: 3
      )
      def f(
        a,
        b) = a

      """
    #expect(
      FE.ast(source) == """
        1:1 (let a (call f 1 2 3))
        4:1 (let b [1 2])
        6:1 (let c (+ x y))
        8:1 (let d (index x 1 2))
        10:1 (outer w (vector 3) 0 (in (neg 1) 1))
        13:1 (solve inner (gd (lr: 0.1) (steps: 3)))
        17:1 (def f (a b) a)

        """)
  }

  /// `outer(` and `solve(` at the start of a continuation line are calls,
  /// not the statements their keywords would start.
  @Test func keywordCallsContinueInsideBrackets() {
    let source = """
      let b = concat(e,
        outer(u, v), axis: 0)
      let c = f(1,
        solve(A, b))

      """
    let (program, diagnostics) = FE.parse(source)
    #expect(diagnostics.isEmpty, "\(diagnostics.map(\.message))")
    #expect(program.statements.count == 2)
  }

  @Test func newlineEndsAStatementOutsideBrackets() {
    let (program, diagnostics) = FE.parse("let a = x\n+ y\n")
    #expect(program.statements.count == 1)
    #expect(diagnostics.count == 1)
    #expect(FE.lines(diagnostics) == [2])
  }
}

@Suite struct ParserRecoveryTests {
  @Test func threeErrorsOnThreeLines() {
    let source = """
      dim n = 3
      let a = 1 +
      let b = 2
      let c = * 3
      outer w: vector[n] = 0
      inner v = 1
      let d = 4

      """
    let (program, diagnostics) = FE.parse(source)
    #expect(diagnostics.count == 3, Comment(rawValue: DiagnosticRenderer.render(diagnostics)))
    #expect(FE.lines(diagnostics) == [2, 4, 6])
    #expect(diagnostics.allSatisfy { $0.severity == .error })
    // The good statements around them all parse.
    #expect(program.statements.count == 4)
  }

  @Test func unclosedParenBeforeAStatementKeyword() {
    let (program, diagnostics) = FE.parse("let a = f(1, 2\nlet b = 2\n")
    #expect(diagnostics.count == 1)
    #expect(
      diagnostics.first?.message
        == "expected ')' to close the '(' opened at test.blv:1:10, found end of line")
    #expect(FE.location(diagnostics[0])! == (1, 15))
    #expect(ASTPrinter.print(program) == "2:1 (let b 2)\n")

    let (grouped, d2) = FE.parse("let a = (1 + x\nouter w: scalar = 0\n")
    #expect(
      d2.map(\.message) == [
        "expected ')' to close the '(' opened at test.blv:1:9, found end of line"
      ])
    #expect(ASTPrinter.print(grouped) == "2:1 (outer w scalar 0)\n")
  }

  @Test func unclosedBracketAtEndOfFile() {
    let (_, diagnostics) = FE.parse("let a = [1, 2")
    #expect(
      diagnostics.map(\.message) == [
        "expected ']' to close the '[' opened at test.blv:1:9, found end of file"
      ])
  }

  @Test func lexicalAndSyntaxErrorsInterleaveByPosition() {
    let (_, diagnostics) = FE.parse("let a = $\nlet b = \nlet c = 2x\n")
    #expect(FE.lines(diagnostics) == [1, 2, 3])
  }

  @Test(
    arguments: [
      ("let d = 3 ** 2", Message.powerIsCaret.text, 11),
      ("let e := 3", Message.walrus.text, 7),
      ("data e := 3", Message.walrus.text, 8),
      ("outer w = 0", "variable 'w' needs a type, as in 'outer w: vector[n] = 0'", 9),
      ("inner w = 0", "variable 'w' needs a type, as in 'inner w: vector[n] = 0'", 9),
      ("inner v: vector(d) = 0", "sizes are written in brackets, as in 'vector[n]'", 16),
      ("inner v: matrix(d, d) = 0", "sizes are written in brackets, as in 'matrix[m, n]'", 16),
      ("inner v: matrix[d] = 0", "'matrix' takes 2 sizes, found 1", 10),
      ("inner v: vector[d, d] = 0", "'vector' takes 1 size, found 2", 10),
      ("inner u: = 0", "expected a type ('scalar', 'vector[n]' or 'matrix[m, n]'), found '='", 10),
      ("tasks t in 1:5", Message.taskRangeUsesDots.text, 13),
      ("let a = over t: x", Message.overNeedsReduction.text, 9),
      ("let a = f(x)(y)", Message.callNeedsName.text, 13),
      ("let a = (x)(y)", Message.callNeedsName.text, 12),
      ("let a = []", Message.emptyArray.text, 9),
      ("outer fixpoint z = z", Message.outerFixpoint.text, 7),
      ("foo = 1", Message.statementNeedsKeyword("foo").text, 1),
      ("var x = 2", Message.unknownStatement("var").text, 1),
      ("let let = 1", "'let' is a reserved word and cannot be used as a name after 'let'", 5),
      (
        "inner vector: scalar = 0",
        "'vector' is a reserved word and cannot be used as a variable name (or 'loss') after 'inner'",
        7
      ),
      ("let 3 = 2", "expected a name after 'let', found number '3'", 5),
      ("solve with gd", "expected 'inner' or 'outer' after 'solve', found keyword 'with'", 7),
      ("hypergradient unroll", "expected 'with' after 'hypergradient', found name 'unroll'", 15),
      ("let a = 1 2", "expected end of line after the statement, found number '2'", 11),
      ("let a = ", "expected an expression, found end of file", 9),
      ("def f = 1", "expected '(' and the parameters of 'f', found '='", 7),
      ("let x = 1e999", "number '1e999' is out of range for a 64-bit float", 9),
      ("1 + 2", "expected a statement, found number '1'", 1),
    ] as [(String, String, Int)])
  func specificMessages(_ source: String, _ message: String, _ column: Int) {
    let (_, diagnostics) = FE.parse(source)
    #expect(diagnostics.map(\.message) == [message], "\(source)")
    #expect(diagnostics.first.flatMap(FE.location)?.column == column, "\(source)")
    #expect(diagnostics.first.flatMap(FE.location)?.line == 1, "\(source)")
  }

  @Test func renderedDiagnostic() {
    let (_, diagnostics) = FE.parse("let d = 3 ** 2\n")
    #expect(
      DiagnosticRenderer.render(diagnostics) == """
        test.blv:1:11: error: '**' is not an operator; write powers with '^', as in 'x^2'
        let d = 3 ** 2
                  ^~

        """)
  }
}
