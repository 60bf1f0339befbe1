import Foundation
import TestSupport
import Testing

/// The exact rendered form of diagnostics: `file:line:col: severity: message`,
/// the source line, and a caret with tildes under the range, counted in
/// characters rather than bytes.
@Suite struct DiagnosticRenderingTests {
  /// Writes the files into a fresh temporary folder and runs `bilevelc check main.blv` there.
  func check(_ files: [String: String]) throws -> DriverRunner.Run {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("bilevelc-rendering-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    for (name, text) in files {
      try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
    }
    return DriverRunner.run(["check", "main.blv"], in: directory)
  }

  static let header = """
    dim n = 3
    data y = [1, 2, 3]
    outer lambda: scalar = 0
    inner w: vector[n] = 0

    """

  @Test func syntaxErrorAtTheEndOfItsLine() throws {
    let run = try check([
      "main.blv": Self.header + "inner loss = sum((w - y)^2 + lambda * sum(w^2)\n"
    ])
    #expect(
      run.errors == """
        main.blv:5:47: error: expected ')' to close the '(' opened at main.blv:5:17, found end of line
        inner loss = sum((w - y)^2 + lambda * sum(w^2)
                                                      ^

        """)
    #expect(run.output.isEmpty)
    #expect(run.status == 1)
  }

  @Test func undefinedNameWithSuggestion() throws {
    let run = try check([
      "main.blv": Self.header + "inner loss = sum((w - y)^2) + lamda * sum(w^2)\n"
    ])
    #expect(
      run.errors == """
        main.blv:5:31: error: undefined name 'lamda'; did you mean 'lambda'?
        inner loss = sum((w - y)^2) + lamda * sum(w^2)
                                      ^~~~~

        """)
    #expect(run.status == 1)
  }

  @Test func csvErrorPointsIntoTheCSVWithANote() throws {
    let run = try check([
      "main.blv": "# training data\ndata D = csv(\"train.csv\")\n",
      "train.csv": "x1,x2,y\n0.5,1.2,3.1\n0.7,n/a,2.9\n",
    ])
    #expect(
      run.errors == """
        train.csv:3:5: error: expected a number, found 'n/a'
        0.7,n/a,2.9
            ^~~
        main.blv:2:14: note: while loading data 'D'
        data D = csv("train.csv")
                     ^~~~~~~~~~~

        """)
    #expect(run.status == 1)
  }

  /// 'é' is two bytes in UTF-8 but one column: the caret must not drift right.
  @Test func caretLinesUpAfterNonASCIIText() throws {
    let run = try check([
      "main.blv": "data X = csv(\"données.csv\") * lamda  # é\n",
      "données.csv": "1,2,3\n",
    ])
    #expect(
      run.errors == """
        main.blv:1:31: error: undefined name 'lamda'
        data X = csv("données.csv") * lamda  # é
                                      ^~~~~

        """)
    #expect(run.status == 1)
  }

  /// A range containing non-ASCII text gets one tilde per character.
  @Test func tildesCountCharactersInsideTheRange() throws {
    let run = try check(["main.blv": "data X = csv(\"résultats/λ.csv\")\n"])
    #expect(
      run.errors == """
        main.blv:1:14: error: cannot read 'résultats/λ.csv': no such file or not readable
        data X = csv("résultats/λ.csv")
                     ^~~~~~~~~~~~~~~~~

        """)
    #expect(run.status == 1)
  }
}
