import BilevelCore
import BilevelFrontEnd

/// Values as the REPL and reports print them: scalars in full, vectors and
/// matrices abbreviated past a few entries.
enum ValueFormatting {
  static func text(_ t: Tensor, format: (Double) -> String = formatValue) -> String {
    switch t.shape.rank {
    case 0: return format(t.scalar)
    case 1: return row(t.scalars, format: format)
    default:
      let rows = (0..<min(t.shape.rows, 6)).map { i in
        row(
          Array(t.scalars[(i * t.shape.columns)..<((i + 1) * t.shape.columns)]), format: format)
      }
      return "[" + rows.joined(separator: ", ")
        + (t.shape.rows > 6 ? ", ... (\(t.shape.rows) rows)" : "") + "]"
    }
  }

  static func row(_ xs: [Double], format: (Double) -> String = formatValue) -> String {
    if xs.count <= 8 { return "[" + xs.map(format).joined(separator: ", ") + "]" }
    return "[" + xs.prefix(6).map(format).joined(separator: ", ")
      + ", ... (\(xs.count) entries)]"
  }

  /// One line: a scalar's value, or a vector's norm and first entries.
  static func summary(_ t: Tensor) -> String {
    if t.shape.isScalar { return formatValue(t.scalar) }
    let norm = t.scalars.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return
      "\(t.shape), norm \(formatValue(norm)), first \(row(Array(t.scalars.prefix(3))).dropLast())\(t.scalars.count > 3 ? ", ...]" : "]")"
  }
}
