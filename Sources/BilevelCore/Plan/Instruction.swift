/// What one plan step does. A plan is a flat array of these over one arena:
/// no classes, no existentials, nothing for the interpreter's loop to retain.
public enum Opcode: UInt8, Sendable {
  /// A fused chain of elementwise ops (`extra` indexes `Plan.fused`).
  case fused
  /// A fused kernel of one step on one entry (scalar bookkeeping such as
  /// step sizes and loss terms): `k` is the step's index in the flattened
  /// step table, so the loop reaches it in one load.
  case scalar
  /// out = op(a) op(b): m×k by k×n (vectors as one-row or one-column matrices).
  case matmul
  /// out = a⁻¹ b, by LU with partial pivoting (`extra`: workspace offset).
  case solve
  /// A reduction along all axes, rows or columns (`extra`: Reduction, axis).
  case reduce
  case softmax, logSoftmax
  /// Contiguous copy (reshape into a new buffer).
  case copy
  case transpose
  /// Gather a window (`extra` indexes `Plan.slices`).
  case slice
  /// Append operands (`extra` indexes `Plan.operandLists`) along an axis.
  case concat
  /// Vector → diagonal matrix, or the diagonal of a square matrix.
  case diag
  /// Sum or mean of task instances (`extra` indexes `Plan.operandLists`).
  case taskSum, taskMean
}

/// One step: an opcode and offsets into the arena (in doubles). `m`, `n`,
/// `k` are the sizes the kernel needs; `flags` carries transposes and axes.
public struct Instruction: Sendable {
  public var opcode: Opcode
  public var flags: UInt8
  public var output: Int32
  public var a: Int32
  public var b: Int32
  public var m: Int32
  public var n: Int32
  public var k: Int32
  public var extra: Int32

  public init(_ opcode: Opcode, output: Int, a: Int = 0, b: Int = 0, m: Int = 0, n: Int = 0, k: Int = 0,
              flags: UInt8 = 0, extra: Int = 0) {
    self.opcode = opcode
    self.flags = flags
    self.output = Int32(output)
    self.a = Int32(a)
    self.b = Int32(b)
    self.m = Int32(m)
    self.n = Int32(n)
    self.k = Int32(k)
    self.extra = Int32(extra)
  }
}

/// An elementwise chain compiled to steps over L1-sized blocks: each step
/// is one tight loop over up to `FusedKernel.block` entries, so a chain of
/// k ops reads its inputs once and writes its result once.
public struct FusedKernel: Sendable {
  public static let block = 256

  /// Where a step reads from.
  public enum Source: Sendable, Equatable {
    case register(Int)
    /// An arena value, repeated by its broadcast role.
    case operand(offset: Int, role: BroadcastRole)
    case immediate(Double)
  }

  public enum Function: Sendable, Equatable {
    case unary(UnaryFunction)
    case binary(BinaryFunction)
    /// Copies (a broadcast of an operand).
    case identity
  }

  public struct Step: Sendable {
    public let function: Function
    public let a: Source
    public let b: Source
  }

  /// The output as rows × columns (a vector is one row).
  public let rows: Int
  public let columns: Int
  public let steps: [Step]
  /// The node each step computes (to report a numeric fault precisely).
  public let nodes: [NodeID]
  /// When set, the kernel's result is the sum (or mean) of the last step
  /// over all entries, accumulated block by block: one scalar output.
  public let reduction: Reduction?
  /// Each step writes register `index`; the last is the result.
  public var registers: Int { steps.count }
}
