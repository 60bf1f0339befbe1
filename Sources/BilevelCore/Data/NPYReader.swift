import BilevelFrontEnd

/// Why an .npy file could not be read. It carries no source range: a binary
/// file has no lines to point at, so the caller attaches the message to the
/// `npy("...")` call that named the file.
public struct NPYError: Error, Sendable, Equatable, CustomStringConvertible {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Reads NumPy's .npy format (versions 1.0, 2.0 and 3.0) into a tensor.
///
/// Layout: the magic `\x93NUMPY`, a major and a minor version byte, the
/// header length (little-endian UInt16 in 1.0, UInt32 in 2.0 and 3.0), the
/// header (a Python dict literal with `descr`, `fortran_order` and `shape`)
/// and then the raw values.
///
/// Supported dtypes: float64/32/16, int64/32/16/8, uint64/32/16/8 and bool,
/// with byte order `<`, `>`, `|` or `=` (`|` and `=` are read as
/// little-endian, which is what NumPy writes for them on every platform it
/// supports). Integers become the nearest Double (exact up to 2^53).
/// Shapes `()`, `(n,)` and `(m, n)` give a scalar, `vector[n]` and
/// `matrix[m, n]`; `(n, 1)` and `(1, n)` stay matrices. Fortran-order
/// arrays are transposed into row-major order. Bytes after the data are
/// ignored, as NumPy does. Every offset is bounds-checked: any byte
/// sequence yields either a tensor or an `NPYError`, never a trap.
public enum NPYReader {
  /// Same limit as CSV files: at most 10^8 entries (800 MB of Doubles).
  public static let maxEntries = 100_000_000

  public static func read(bytes: [UInt8]) -> Result<Tensor, NPYError> {
    let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
    guard bytes.count >= 6, bytes[0..<6].elementsEqual(magic) else {
      return .failure(NPYError("not an .npy file (bad magic)"))
    }
    guard bytes.count >= 8 else {
      return .failure(NPYError("file is truncated: no format version"))
    }
    let (major, minor) = (bytes[6], bytes[7])
    guard minor == 0, (1...3).contains(major) else {
      return .failure(NPYError("unsupported .npy format version \(major).\(minor)"))
    }
    let lengthBytes = major == 1 ? 2 : 4
    guard bytes.count >= 8 + lengthBytes else {
      return .failure(NPYError("file is truncated: no header length"))
    }
    var headerLength = 0
    for k in 0..<lengthBytes { headerLength |= Int(bytes[8 + k]) << (8 * k) }
    let headerStart = 8 + lengthBytes
    guard headerLength <= bytes.count - headerStart else {
      return .failure(
        NPYError(
          "file is truncated: the header is \(headerLength) bytes, but only \(bytes.count - headerStart) follow"
        ))
    }
    let dataStart = headerStart + headerLength

    let header: NPYHeader
    switch NPYHeader.parse(bytes[headerStart..<dataStart]) {
    case .success(let h): header = h
    case .failure(let e): return .failure(e)
    }
    guard case .string(let descr) = header.descr else {
      return .failure(NPYError("unsupported dtype: structured arrays are not supported"))
    }
    guard let dtype = NPYDType(descr) else {
      return .failure(NPYError("unsupported dtype '\(descr)'"))
    }
    let dims = header.shape
    guard dims.count <= 2 else {
      return .failure(NPYError("array has \(dims.count) axes; bilevelc values have at most 2"))
    }
    var count = 1
    for d in dims {
      let (product, overflow) = count.multipliedReportingOverflow(by: d)
      guard d <= maxEntries, !overflow, product <= maxEntries else {
        return .failure(
          NPYError(
            "array of shape \(shapeText(dims)) has more than \(maxEntries) values"))
      }
      count = product
    }
    let available = (bytes.count - dataStart) / dtype.size
    guard available >= count else {
      return .failure(
        NPYError("file is truncated: header says \(count) values, found \(available)"))
    }

    var values = bytes.withUnsafeBytes { raw in
      dtype.decode(
        UnsafeRawBufferPointer(rebasing: raw[dataStart..<(dataStart + count * dtype.size)]))
    }
    if header.fortranOrder && dims.count == 2 {
      values = transposeColumnMajor(values, rows: dims[0], columns: dims[1])
    }
    return .success(Tensor(shape: Shape(dims), scalars: values))
  }

  /// As Python prints a shape tuple: `(3,)`, `(2, 3)`.
  static func shapeText(_ dims: [Int]) -> String {
    dims.count == 1 ? "(\(dims[0]),)" : "(" + dims.map(String.init).joined(separator: ", ") + ")"
  }

  /// Column-major `rows × columns` entries reordered row-major.
  static func transposeColumnMajor(_ values: [Double], rows: Int, columns: Int) -> [Double] {
    guard rows > 1 && columns > 1 else { return values }
    var out = [Double](repeating: 0, count: values.count)
    for j in 0..<columns {
      for i in 0..<rows { out[i * columns + j] = values[j * rows + i] }
    }
    return out
  }
}

/// The element types bilevelc can read, with their byte order.
struct NPYDType {
  enum Kind { case float, int, uint, bool }
  let kind: Kind
  let size: Int
  let bigEndian: Bool

  /// Parses a descr such as `<f8`, `>i4` or `|b1`; nil if unsupported.
  init?(_ descr: String) {
    var code = Substring(descr)
    switch code.first {
    case "<", "|", "=": bigEndian = false; code = code.dropFirst()
    case ">": bigEndian = true; code = code.dropFirst()
    default: bigEndian = false
    }
    switch code {
    case "f8": (kind, size) = (.float, 8)
    case "f4": (kind, size) = (.float, 4)
    case "f2": (kind, size) = (.float, 2)
    case "i8": (kind, size) = (.int, 8)
    case "i4": (kind, size) = (.int, 4)
    case "i2": (kind, size) = (.int, 2)
    case "i1": (kind, size) = (.int, 1)
    case "u8": (kind, size) = (.uint, 8)
    case "u4": (kind, size) = (.uint, 4)
    case "u2": (kind, size) = (.uint, 2)
    case "u1": (kind, size) = (.uint, 1)
    case "b1", "?": (kind, size) = (.bool, 1)
    default: return nil
    }
  }

  /// Decodes `raw.count / size` values; the caller sized `raw` exactly.
  func decode(_ raw: UnsafeRawBufferPointer) -> [Double] {
    switch (kind, size) {
    case (.float, 8): return load(raw, UInt64.self) { Double(bitPattern: $0) }
    case (.float, 4): return load(raw, UInt32.self) { Double(Float(bitPattern: $0)) }
    case (.float, _): return load(raw, UInt16.self) { Self.half($0) }
    case (.int, 8): return load(raw, UInt64.self) { Double(Int64(bitPattern: $0)) }
    case (.int, 4): return load(raw, UInt32.self) { Double(Int32(bitPattern: $0)) }
    case (.int, 2): return load(raw, UInt16.self) { Double(Int16(bitPattern: $0)) }
    case (.int, _): return load(raw, UInt8.self) { Double(Int8(bitPattern: $0)) }
    case (.uint, 8): return load(raw, UInt64.self) { Double($0) }
    case (.uint, 4): return load(raw, UInt32.self) { Double($0) }
    case (.uint, 2): return load(raw, UInt16.self) { Double($0) }
    case (.uint, _): return load(raw, UInt8.self) { Double($0) }
    case (.bool, _): return load(raw, UInt8.self) { $0 == 0 ? 0 : 1 }
    }
  }

  /// Loads unaligned integers (the data offset need not be aligned), fixes
  /// the byte order and converts each one.
  private func load<T: FixedWidthInteger>(
    _ raw: UnsafeRawBufferPointer, _: T.Type, _ convert: (T) -> Double
  ) -> [Double] {
    let n = raw.count / MemoryLayout<T>.size
    let big = bigEndian
    return [Double](unsafeUninitializedCapacity: n) { out, initialized in
      for k in 0..<n {
        let stored = raw.loadUnaligned(fromByteOffset: k * MemoryLayout<T>.size, as: T.self)
        out[k] = convert(big ? T(bigEndian: stored) : T(littleEndian: stored))
      }
      initialized = n
    }
  }

  /// IEEE binary16 to Double, exactly (Float16 is not on every platform).
  static func half(_ bits: UInt16) -> Double {
    let sign: Double = bits & 0x8000 != 0 ? -1 : 1
    let exponent = Int((bits >> 10) & 0x1F)
    let fraction = Double(bits & 0x3FF)
    switch exponent {
    case 0: return sign * fraction * 0x1.0p-24
    case 31: return fraction == 0 ? sign * .infinity : .nan
    default:
      return sign * (1 + fraction * 0x1.0p-10)
        * Double(sign: .plus, exponent: exponent - 15, significand: 1)
    }
  }
}
