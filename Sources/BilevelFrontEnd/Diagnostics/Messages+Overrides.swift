// MARK: Command-line overrides
extension Message {
  public static func setNeedsNameAndValue(_ text: String) -> Message {
    Message("--set needs NAME=VALUE, as in '--set n=50'; given '\(text)'")
  }
  public static func setUnknownName(_ name: String, hint: String) -> Message {
    Message("--set: no 'dim' or 'data' named '\(name)' in the program\(hint)")
  }
  public static func setNotChangeable(_ name: String, what: String) -> Message {
    Message("--set changes a 'dim' or a scalar 'data'; '\(name)' is \(what)")
  }
  public static func setDataNotScalar(_ name: String, shape: String) -> Message {
    Message("--set changes a 'dim' or a scalar 'data'; data '\(name)' is \(shape)")
  }
  public static func setTwice(_ name: String) -> Message { Message("--set gives '\(name)' twice") }
}
