/// What one plan step does, with what only that kind of step needs (table
/// indices, transposes, axes) as typed payloads. Every payload is a plain
/// value, so an instruction stays a trivial struct: a plan is a flat array of
/// them over one arena, with nothing for the interpreter's loop to retain.
public enum Opcode: Sendable, Equatable {
  /// A fused chain of elementwise ops: `kernel` indexes `Plan.fused`.
  case fused(kernel: Int32)
  /// A fused kernel of one step on one entry (scalar bookkeeping such as
  /// step sizes and loss terms): `step` is that step's index in the
  /// flattened step table, so the loop reaches it in one load.
  case scalar(kernel: Int32, step: Int32)
  /// out = op(a) op(b): m×k by k×n (vectors as one-row or one-column matrices).
  case matmul(transposeA: Bool, transposeB: Bool)
  /// out = a⁻¹ b, by LU with partial pivoting, with its scratch at `workspace`.
  case solve(workspace: Int32)
  /// A reduction of an m×n input along all axes, rows or columns.
  case reduce(Reduction, Axis)
  /// 1-based index of the first largest entry of an m×n input, along all axes, rows or columns.
  case argmax(Axis)
  case softmax, logSoftmax
  /// Contiguous copy of m entries (reshape into a new buffer).
  case copy
  case transpose
  /// Gather a window of an m×n input: `slice` indexes `Plan.slices`.
  case slice(Int32)
  /// Append the parts `list` (indexes `Plan.concatLists`), by rows or by columns.
  case concat(list: Int32, byColumns: Bool)
  /// Vector → diagonal matrix, or the diagonal of a square matrix.
  case diag(DiagonalDirection)
  /// Sum or mean of task instances: `list` indexes `Plan.operandLists`.
  case taskSum(list: Int32), taskMean(list: Int32)
  /// out (k) = aᵀ w, w row-local in a vᵢ (a m×k), reading a once block of
  /// rows by block (RowBlockProduct): `product` indexes `Plan.rowBlockProducts`.
  case rowBlockProduct(Int32)
}

/// What a `rowBlockProduct` instruction needs besides a (X, m×k), the
/// weights w and out: its kernels, which compute w from the row values
/// uᵢ = X vᵢ block of rows by block, where the uᵢ and the kernels' results
/// are written (m entries each; later instructions may read them), and its
/// workspace (the per-part sums, then each part's kernel registers).
public struct RowBlockFusion: Sendable, Equatable {
  /// `firstKernel..<firstKernel + kernelCount` in `Plan.fused`, in order; w is the last's result.
  public let firstKernel: Int
  public let kernelCount: Int
  /// Index into `Plan.operandLists`: each kernel's result, then each uᵢ, then each vᵢ.
  public let list: Int
  public let rowValueCount: Int
  public let workspace: Int

  /// Doubles of workspace for an m×k matrix and kernels of at most `registers` steps.
  static func workspaceSize(rows m: Int, columns k: Int, registers: Int) -> Int {
    RowBlockProduct.workspaceSize(rows: m, columns: k)
      + RowBlockProduct.parts(rows: m, columns: k) * registers * FusedKernel.block
  }
}

/// Which way a `diag` instruction goes.
public enum DiagonalDirection: UInt8, Sendable {
  /// An n-vector becomes an n×n diagonal matrix.
  case vectorToMatrix
  /// An n×n matrix gives its diagonal.
  case matrixToVector
}

/// One part of a `concat`: a value at `offset`, as rows × columns (vectors
/// and scalars are one column).
public struct ConcatPart: Sendable, Equatable {
  public let offset: Int
  public let rows: Int
  public let columns: Int
  public var count: Int { rows * columns }
}

/// One step: an opcode and offsets into the arena (in doubles). `m`, `n`,
/// `k` are the sizes the kernel needs (per opcode, as documented there);
/// `a` and `b` are the operands its kernel reads, where it has them.
public struct Instruction: Sendable {
  public var opcode: Opcode
  public var output: Int32
  public var a: Int32
  public var b: Int32
  public var m: Int32
  public var n: Int32
  public var k: Int32

  public init(
    _ opcode: Opcode, output: Int, a: Int = 0, b: Int = 0, m: Int = 0, n: Int = 0, k: Int = 0
  ) {
    self.opcode = opcode
    self.output = Int32(output)
    self.a = Int32(a)
    self.b = Int32(b)
    self.m = Int32(m)
    self.n = Int32(n)
    self.k = Int32(k)
  }

  /// The fused kernel a `fused` or `scalar` instruction runs.
  public var fusedKernel: Int? {
    switch opcode {
    case .fused(let k), .scalar(let k, _): return Int(k)
    default: return nil
    }
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

  /// What the interpreter reads per kernel, from raw memory: where its steps
  /// start in the flattened step table, how many, the output's rows ×
  /// columns, and the trailing reduction if any.
  struct Header {
    let first: Int
    let count: Int
    let rows: Int
    let columns: Int
    let reduction: Reduction?
    /// Rows per block when the kernel runs over row blocks (FusedRowBlocks),
    /// else 0; then its row-block steps and broadcasts in their tables.
    var rowsPerBlock = 0
    var blockFirst = 0
    var broadcastFirst = 0
    var broadcastCount = 0
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
  /// Entries the kernel writes: one when it reduces.
  public var outputCount: Int { reduction == nil ? rows * columns : 1 }
}
