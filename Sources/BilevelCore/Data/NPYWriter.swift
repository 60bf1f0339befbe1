/// .npy version 1.0 files of little-endian float64 in C (row-major) order,
/// as `numpy.load` and `jax.numpy.load` read them; `NPYReader` reads them
/// back. The header is padded with spaces to a multiple of 64 bytes and
/// ends in a newline, as the format requires.
public enum NPYWriter {
  public static func bytes(shape: [Int], values: [Double]) -> [UInt8] {
    precondition(shape.reduce(1, *) == values.count, "the shape must hold the values")
    let dims =
      shape.isEmpty
      ? "()"
      : shape.count == 1
        ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = Array("{'descr': '<f8', 'fortran_order': False, 'shape': \(dims), }".utf8)
    let unpadded = 10 + header.count + 1
    header += Array(repeating: UInt8(ascii: " "), count: (64 - unpadded % 64) % 64)
    header.append(UInt8(ascii: "\n"))
    var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
    out += [UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
    out += header
    out.reserveCapacity(out.count + 8 * values.count)
    for v in values {
      var bits = v.bitPattern.littleEndian
      withUnsafeBytes(of: &bits) { out += $0 }
    }
    return out
  }
}
