import BilevelFrontEnd
import TestSupport
import Testing

@testable import BilevelCore

/// `csv("...", rows: m, columns: n)` checked against the file it reads.
@Suite struct CSVCountTests {
  static let files: [String: String] = ["m.csv": "a,b,c\n1,2,3\n4,5,6\n", "v.csv": "1\n2\n3\n4\n"]

  static let problem = """
    outer lam: scalar = 0
    inner w: scalar = 0
    inner loss = (w - sum(X))^2 + exp(lam) * w^2
    outer loss = w^2
    solve inner with gd(lr: 0.1, steps: 10)
    hypergradient with implicit(cg, iters: 5)
    solve outer with gd(lr: 0.1, steps: 3)
    """

  static func messages(_ data: String) -> [String] {
    var options = CompileOptions()
    options.readFile = { p in files[p].map { Array($0.utf8) } }
    let text = "dim n = 2, d = 3\ndata X = \(data)\n" + problem
    let (_, ds) = TestPrograms.compile(text) { Elaborator.elaborate($0, options: options) }
    return ds.filter { $0.severity == .error }.map(\.message)
  }

  @Test func matchingCountsPass() {
    #expect(Self.messages("csv(\"m.csv\", rows: n, columns: d)").isEmpty)
    #expect(Self.messages("csv(\"m.csv\", columns: 3)").isEmpty)
    // A one-column file is a vector with 1 column.
    #expect(Self.messages("csv(\"v.csv\", rows: 2 * n, columns: 1)").isEmpty)
  }

  @Test func mismatchNamesBothCounts() {
    #expect(Self.messages("csv(\"m.csv\", rows: d)") == ["'m.csv' has 2 rows, but rows: d = 3"])
    #expect(
      Self.messages("csv(\"m.csv\", rows: 2, columns: n)") == [
        "'m.csv' has 3 columns, but columns: n = 2"
      ])
    #expect(Self.messages("csv(\"v.csv\", columns: 2)") == ["'v.csv' has 1 column, but columns: 2"])
  }
}
