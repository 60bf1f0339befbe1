import BilevelFrontEnd
import Foundation
import Testing

@testable import BilevelCore

/// Parses `text` as a CSV file named data.csv.
private func csv(_ text: String) -> Result<Tensor, Diagnostic> {
  CSVReader.read(SourceFile(path: "data.csv", text: text))
}

private func tensor(_ text: String) -> Tensor? {
  if case .success(let t) = csv(text) { return t }
  return nil
}

/// The message, position and covered text of the error `text` produces.
private struct Failure: Equatable {
  let message: String
  let line: Int
  let column: Int
  let text: String
}

private func failure(_ text: String) -> Failure? {
  guard case .failure(let d) = csv(text), let r = d.range else { return nil }
  let (line, column) = r.file.lineAndColumn(of: r.start)
  return Failure(message: d.message, line: line, column: column, text: r.text)
}

@Suite struct CSVReaderTests {
  @Test func oneColumnIsAVector() {
    #expect(tensor("1\n2\n3\n") == Tensor(shape: .vector(3), scalars: [1, 2, 3]))
    #expect(tensor("5") == Tensor(shape: .vector(1), scalars: [5]))
  }

  @Test func severalColumnsAreAMatrix() {
    #expect(tensor("1,2,3\n4,5,6\n") == Tensor(shape: .matrix(2, 3), scalars: [1, 2, 3, 4, 5, 6]))
    #expect(tensor("1,2,3") == Tensor(shape: .matrix(1, 3), scalars: [1, 2, 3]))
  }

  @Test func headerRowIsSkipped() {
    #expect(tensor("x\n1\n2") == Tensor(shape: .vector(2), scalars: [1, 2]))
    #expect(tensor("x, y\n1, 2\n3, 4\n") == Tensor(shape: .matrix(2, 2), scalars: [1, 2, 3, 4]))
    // One non-numeric field is enough; the others may look like numbers.
    #expect(tensor("t,1,2\n0,1,2") == Tensor(shape: .matrix(1, 3), scalars: [0, 1, 2]))
    // Quoted header names (as R writes them) may contain commas.
    #expect(tensor("\"a,b\",\"c\"\n\"1\",2\n") == Tensor(shape: .matrix(1, 2), scalars: [1, 2]))
  }

  /// A first row that is not clearly a header (its non-numbers are not
  /// words) is an error at the field, not a header that drops a data row.
  @Test func malformedNumberInFirstRowIsAnError() {
    let suffix = "; a first row is a header only when its fields are numbers or words"
    for (text, field, column) in [
      ("1_000,2\n3,4\n", "1_000", 1), ("2,\u{2212}1.5\n3,4\n", "\u{2212}1.5", 3),
      ("\"1,2\",3\n4,5\n", "\"1,2\"", 1), ("1.2.3\n4\n", "1.2.3", 1),
      ("x,1_000\n1,2\n", "1_000", 3),
    ] {
      #expect(
        failure(text)
          == Failure(
            message: "expected a number, found '\(field)'" + suffix, line: 1, column: column,
            text: field), "\(text)")
    }
    // Words (any script, or starting with '_') still make a header.
    #expect(tensor("_id,größe\n1,2") == Tensor(shape: .matrix(1, 2), scalars: [1, 2]))
  }

  @Test func crlfSpacesCommentsAndBlankLines() {
    let text =
      "\u{FEFF}# produced by a script\r\n\r\na , b\r\n 1 ,\t2 \r\n  # halfway\r\n\r\n3,4\r\n"
    #expect(tensor(text) == Tensor(shape: .matrix(2, 2), scalars: [1, 2, 3, 4]))
  }

  @Test func numberForms() {
    let t = tensor("+1, .5, 5., 1e3, 1E-3, 0x1p3, -0, 12345678901234567890, 0.1")
    #expect(t?.scalars == [1, 0.5, 5, 1000, 0.001, 8, -0.0, 12_345_678_901_234_567_168, 0.1])
    #expect(t?.scalars[6].sign == .minus)
  }

  @Test func nanAndInfinityAreAcceptedInAnyCase() {
    guard let t = tensor("nan, NaN, -NAN, inf, -inf, Infinity, -INF") else {
      Issue.record("did not parse")
      return
    }
    #expect(t.scalars[0...2].allSatisfy { $0.bitPattern == Double.nan.bitPattern })
    #expect(Array(t.scalars[3...]) == [.infinity, -.infinity, .infinity, -.infinity])
  }

  @Test func fastPathAgreesWithDoubleInit() {
    var r = RandomStream(seed: 31)
    for _ in 0..<20_000 {
      var s = r.nextUniform() < 0.3 ? "-" : ""
      let digits = 1 + Int(r.nextUInt64() % 20)
      let dot = Int(r.nextUInt64() % UInt64(digits + 2))
      for k in 0..<digits {
        if k == dot { s += "." }
        s += String(r.nextUInt64() % 10)
      }
      if r.nextUniform() < 0.4 { s += "e" + String(Int(r.nextUInt64() % 61) - 30) }
      let expected = Double(s)!
      #expect(NumberScanner.scan(s) == .value(expected), "\(s)")
      #expect(tensor(s)?.scalars.first?.bitPattern == expected.bitPattern, "\(s)")
    }
  }

  @Test func notANumberPointsAtTheField() {
    #expect(
      failure("x,y\n1,2\n3,abc\n")
        == Failure(message: "expected a number, found 'abc'", line: 3, column: 3, text: "abc"))
    // Only the first row can be a header.
    #expect(
      failure("1,2\nx,y\n")
        == Failure(message: "expected a number, found 'x'", line: 2, column: 1, text: "x"))
    #expect(
      failure("a,b\r\n1, 2\r\n3,  4x \r\n")
        == Failure(message: "expected a number, found '4x'", line: 3, column: 5, text: "4x"))
    #expect(
      failure("1,2\n3,\"4\"x\n")
        == Failure(message: "expected a number, found '\"4\"x'", line: 2, column: 3, text: "\"4\"x")
    )
    #expect(failure("1,2\n1,é\n")?.column == 3)
  }

  @Test func payloadNaNsAndNulBytesAreNotNumbers() {
    #expect(failure("1\nsnan\n")?.message == "expected a number, found 'snan'")
    #expect(failure("1\nnan(7)\n")?.message == "expected a number, found 'nan(7)'")
    #expect(failure("1\n2\u{0}\n")?.line == 2)
    #expect(failure("1\n1 2\n")?.message == "expected a number, found '1 2'")
  }

  @Test func hugeNumbersAreOutOfRange() {
    #expect(
      failure("1\n1e400\n")
        == Failure(
          message: "number '1e400' is out of range for a 64-bit float", line: 2, column: 1,
          text: "1e400"))
    #expect(failure("1, -1e999\n")?.message == "number '-1e999' is out of range for a 64-bit float")
  }

  @Test func emptyFields() {
    #expect(failure("1,,2\n") == Failure(message: "empty field", line: 1, column: 3, text: ""))
    #expect(failure("1,2\n3,4,\n") == Failure(message: "empty field", line: 2, column: 5, text: ""))
    #expect(failure("1,2\n , 4\n") == Failure(message: "empty field", line: 2, column: 2, text: ""))
    #expect(failure("1,\"\"\n")?.message == "empty field")
  }

  @Test func rowLengthMismatch() {
    let text = "1,2,3,4\n5,6,7,8\n\n5,6,7\n"
    #expect(
      failure(text)
        == Failure(
          message: "row has 3 fields; the first row has 4", line: 4, column: 1, text: "5,6,7"))
    guard case .failure(let d) = csv(text) else { return }
    #expect(d.notes.map(\.message) == ["the first row is here"])
    #expect(d.notes.first?.range?.text == "1,2,3,4")
    #expect(failure("1,2\n3\n")?.message == "row has 1 field; the first row has 2")
    #expect(
      failure("x,y,z\r\n1,2\r\n")
        == Failure(message: "row has 2 fields; the header has 3", line: 2, column: 1, text: "1,2"))
  }

  @Test func noDataRows() {
    let expected = Failure(message: "no data rows in the CSV file", line: 1, column: 1, text: "")
    #expect(failure("") == expected)
    #expect(failure("# nothing\n\n   \n") == expected)
    #expect(failure("x,y\n") == expected)
  }

  @Test func unterminatedQuote() {
    #expect(
      failure("1,\"2\n")
        == Failure(
          message: "unterminated quoted field; it must close with '\"' on the same line",
          line: 1, column: 3, text: "\"2"))
  }

  @Test func diagnosticRendersTheCSVLine() {
    guard case .failure(let d) = csv("x,y\n1,2\n3,abc\n") else {
      Issue.record("expected an error")
      return
    }
    #expect(
      DiagnosticRenderer.render([d]) == """
        data.csv:3:3: error: expected a number, found 'abc'
        3,abc
          ^~~

        """)
  }

  @Test func entryLimitIsEnforced() {
    let file = SourceFile(path: "data.csv", text: "1,2\n3,4\n5,6\n")
    guard case .failure(let d) = CSVReader.read(file, limit: 5) else {
      Issue.record("expected an error")
      return
    }
    #expect(d.message == "the CSV file has more than 5 entries")
    #expect(d.range.map { file.lineAndColumn(of: $0.start).line } == 3)
    #expect((try? CSVReader.read(file, limit: 6).get())?.tensor.shape == .matrix(3, 2))
    #expect(CSVReader.maxEntries == 100_000_000)
  }

  @Test func longFieldsAreShortenedInMessages() {
    let long = String(repeating: "z", count: 100)
    #expect(
      failure("1\n\(long)\n")?.message
        == "expected a number, found '\(String(repeating: "z", count: 40))…'")
  }

  @Test func largeFileParses() {
    var text = "a,b,c,d\n"
    for i in 0..<20_000 { text += "\(i),\(Double(i) * 0.25),-\(i)e-3,1.5\n" }
    let t = tensor(text)
    #expect(t?.shape == .matrix(20_000, 4))
    #expect(t?[19_999, 1] == 19_999 * 0.25)
    #expect(t?[123, 2] == -0.123)
  }
}

/// Files as people save them: numpy's savetxt (spaces), European CSV (semicolons).
@Suite struct CSVDelimiterTests {
  static func table(_ text: String) -> (tensor: Tensor, delimiter: CSVDelimiter)? {
    try? CSVReader.readTable(SourceFile(path: "data.csv", text: text)).get()
  }

  @Test func whitespaceSeparatedAsNumpySavesIt() throws {
    // np.savetxt's default: "%.18e" with one space; runs of blanks and tabs count once.
    let t = try #require(
      Self.table("1.000000000000000000e+00 2.500000000000000000e+00\n-3.0   4\n"))
    #expect(t.delimiter == .whitespace)
    #expect(t.tensor.shape == .matrix(2, 2))
    #expect(t.tensor.scalars == [1, 2.5, -3, 4])
    let tabs = try #require(Self.table("# x y z\n1\t2\t3\n4  5\t 6\n"))
    #expect(tabs.delimiter == .whitespace && tabs.tensor.scalars == [1, 2, 3, 4, 5, 6])
  }

  @Test func semicolonSeparated() throws {
    let t = try #require(Self.table("a; b\n1; 2\n3;4\n"))
    #expect(t.delimiter == .semicolon)
    #expect(t.tensor.scalars == [1, 2, 3, 4])
  }

  @Test func commasStillWinAndOneColumnIsAVector() throws {
    let t = try #require(Self.table("1, 2\n3, 4\n"))
    #expect(t.delimiter == .comma && t.tensor.scalars == [1, 2, 3, 4])
    let v = try #require(Self.table("1\n2\n3\n"))
    #expect(v.tensor.shape == .vector(3))
  }

  @Test func aMixedFileIsALocatedError() {
    // The first line decides: a later comma row is a field that is not a number.
    guard case .failure(let d) = CSVReader.read(SourceFile(path: "data.csv", text: "1 2\n3,4 5\n"))
    else {
      Issue.record("expected an error")
      return
    }
    #expect(d.message == "expected a number, found '3,4'", "\(d.message)")
  }
}
