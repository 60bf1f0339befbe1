/// Lets readers return `Result<Tensor, Diagnostic>`: a single diagnostic is
/// the whole failure when one bad cell stops a data file from loading.
extension Diagnostic: Error {}

// MARK: Data files (CSV and .npy)
extension Message {
  /// Long fields are shortened so one bad cell cannot flood the terminal.
  public static func csvExpectedNumber(_ field: String) -> Message {
    let shown = field.count > 40 ? String(field.prefix(40)) + "…" : field
    return Message("expected a number, found '\(shown)'")
  }
  /// A first row that is not clearly a header: it must not be skipped silently.
  public static func csvMalformedFirstRow(_ field: String) -> Message {
    let shown = field.count > 40 ? String(field.prefix(40)) + "…" : field
    return Message(
      "expected a number, found '\(shown)'; a first row is a header only when its fields are numbers or words"
    )
  }
  public static let csvEmptyField = Message("empty field")
  public static func csvRowLength(_ fields: Int, first: Int) -> Message {
    Message("row has \(csvPlural(fields, "field")); the first row has \(first)")
  }
  public static func csvHeaderLength(_ fields: Int, header: Int) -> Message {
    Message("row has \(csvPlural(fields, "field")); the header has \(header)")
  }
  public static let csvFirstRowHere = Message("the first row is here")
  public static let csvHeaderHere = Message("the header is here")
  public static let csvNoDataRows = Message("no data rows in the CSV file")
  public static let csvUnterminatedQuote = Message(
    "unterminated quoted field; it must close with '\"' on the same line")
  public static func csvTooManyEntries(_ limit: Int) -> Message {
    Message("the CSV file has more than \(limit) entries")
  }

  private static func csvPlural(_ n: Int, _ noun: String) -> String {
    "\(n) \(noun)\(n == 1 ? "" : "s")"
  }
}
