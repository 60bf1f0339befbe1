import BilevelFrontEnd

/// A compiled execution plan: instructions over one arena of doubles. The
/// arena's offsets number, in order, the hoisted constants (data and
/// everything computed from data alone), the parameters (variables and
/// inputs, written by the caller), and the work region, whose buffers are
/// reused as values die.
///
/// The constants are not copied into the plan: they stay in the program's
/// ConstantPool, shared by every plan, and the plan's own memory starts at
/// the parameters. The tables the interpreter reads are copied into raw
/// memory owned by the plan, with offsets into that memory and constants
/// as `~k` (the k-th entry of the constant table), so its loop retains
/// nothing and allocates nothing.
// Unchecked: run() writes the raw arena, so a plan is used by one thread at a
// time (each task has its own; tasks of the same shapes share its code).
public final class Plan: @unchecked Sendable {
  /// A place the caller writes before `run()`: a variable or input, for one task or all.
  public struct Parameter: Sendable {
    public let leaf: Op
    public let task: Int?
    public let offset: Int
    public let shape: Shape
  }

  public struct Output: Sendable {
    public let node: NodeID
    public let offset: Int
    public let shape: Shape
  }

  public struct Statistics: Sendable {
    public let constants: Int
    public let parameters: Int
    /// The work region as planned, its lower bound (the largest live set)
    /// and what one buffer per value would take, in doubles.
    public let work: Int
    public let maximumLive: Int
    public let withoutReuse: Int
    public let scratch: Int
    public let fusedOps: Int
  }

  public let instructions: [Instruction]
  public let fused: [FusedKernel]
  public let slices: [SliceSpec]
  /// The operands of each task sum or mean (arena offsets).
  public let operandLists: [[Int]]
  /// The parts of each concat.
  public let concatLists: [[ConcatPart]]
  /// The fused kernel and buffers of each row-block product.
  public let rowBlockProducts: [RowBlockFusion]
  /// (An instance shared by tasks relabels them when rebound: PlanSharing.swift.)
  public internal(set) var parameters: [Parameter]
  public let outputs: [Output]
  /// The node each instruction computes (for fused kernels, the chain's
  /// last), in the plan's own graph, and the source it came from.
  public let provenance: [NodeID]
  public let origins: [SourceRange?]
  /// Per fused kernel, the source of each step.
  public let stepOrigins: [[SourceRange?]]
  public let statistics: Statistics
  /// The node each instruction and fused step computes in the graph the
  /// plan was built from (the plan's own graph is a simplified copy); nil
  /// for nodes the reassociation made.
  public internal(set) var sourceNodes: [NodeID?] = []
  public internal(set) var sourceStepNodes: [[NodeID?]] = []
  /// Per row-block product, each row value's node (X vᵢ), its source
  /// node and origin: where a fault in it is reported, as for the product
  /// the plan would otherwise run.
  public internal(set) var rowValueNodes: [[NodeID]] = []
  public internal(set) var rowValueSourceNodes: [[NodeID?]] = []
  public internal(set) var rowValueOrigins: [[SourceRange?]] = []
  /// The reassociation rules that shaped the plan, and how often.
  public internal(set) var rewrites: [(rule: String, count: Int)] = []
  /// Entries each instruction writes (for numeric checks).
  public let outputCounts: [Int]
  /// Where fused kernels keep their block registers, and GEMM its packing buffers.
  let scratchOffset: Int
  let gemmWorkspaceOffset: Int
  let arenaCount: Int
  /// Where each hoisted constant sits (what the verifier reads them against).
  let constantExtents: [Range<Int>]
  /// The program's shared values the constants were taken from (ConstantPool).
  var constantBuffers: [(offset: Int, buffer: ConstantPool.Buffer)]
  /// The plan's own memory: the arena from the parameters on (offset
  /// `constantsSize`). Read and write through `address(_:)`.
  public let arena: UnsafeMutablePointer<Double>
  /// Doubles before the parameters in the offsets: the shared constants.
  let constantsSize: Int
  /// Where the fused kernels' registers and GEMM's packing space are.
  let scratchBase: UnsafeMutablePointer<Double>
  let gemmWorkspaceBase: UnsafeMutablePointer<Double>

  // Raw copies for the interpreter, offsets into `arena` (constants: `~k`);
  // `tables` owns them, shared by every instance of the same code.
  let tables: PlanTables
  let constantTable: UnsafeMutableBufferPointer<UnsafeMutablePointer<Double>>
  let instructionBuffer: UnsafeMutableBufferPointer<Instruction>
  let stepBuffer: UnsafeMutableBufferPointer<FusedKernel.Step>
  let kernelBuffer: UnsafeMutableBufferPointer<FusedKernel.Header>
  let broadcastBuffer: UnsafeMutableBufferPointer<FusedKernel.RowBlockBroadcast>
  let sliceBuffer: UnsafeMutableBufferPointer<SliceSpec>
  /// Operand lists and concat parts flattened: list `l` is
  /// `buffer[starts[l]..<starts[l + 1]]` (the starts end with the total).
  let listStarts: UnsafeMutableBufferPointer<Int>
  let listBuffer: UnsafeMutableBufferPointer<Int>
  let concatStarts: UnsafeMutableBufferPointer<Int>
  let concatBuffer: UnsafeMutableBufferPointer<ConcatPart>
  /// How the plan, built for one task, is rebound to another (PlanSharing.swift);
  /// nil when it cannot be (it reads other tasks' values, or no task's).
  var taskBinding: TaskBinding?
  /// The roots it was built for, when the program's pool keeps its code (PlanSharing.swift).
  var kind: ConstantPool.PlanKind?
  /// The thread whose instance it is (when `kind` is set).
  var owner: UInt = 0
  let rowBlockBuffer: UnsafeMutableBufferPointer<RowBlockFusion>

  /// `sharing`: a plan of the same code whose tables this one reads (an
  /// instance for another task, with its own arena and constants).
  init(
    instructions: [Instruction], fused: [FusedKernel], slices: [SliceSpec], operandLists: [[Int]],
    concatLists: [[ConcatPart]], rowBlockProducts: [RowBlockFusion] = [],
    parameters: [Parameter], outputs: [Output], provenance: [NodeID], origins: [SourceRange?],
    stepOrigins: [[SourceRange?]], outputCounts: [Int],
    statistics: Statistics,
    constants: [(offset: Int, buffer: ConstantPool.Buffer)], scratchOffset: Int,
    gemmWorkspaceOffset: Int,
    arenaCount: Int, sharing: Plan? = nil
  ) {
    self.instructions = instructions
    self.fused = fused
    self.slices = slices
    self.operandLists = operandLists
    self.concatLists = concatLists
    self.rowBlockProducts = rowBlockProducts
    self.parameters = parameters
    self.outputs = outputs
    self.provenance = provenance
    self.origins = origins
    self.stepOrigins = stepOrigins
    self.outputCounts = outputCounts
    self.statistics = statistics
    self.scratchOffset = scratchOffset
    self.gemmWorkspaceOffset = gemmWorkspaceOffset
    self.arenaCount = arenaCount
    constantExtents = constants.map { $0.offset..<($0.offset + $0.buffer.count) }
    constantBuffers = constants
    let size = constants.reduce(0) { max($0, $1.offset + $1.buffer.count) }
    constantsSize = size
    let own = max(1, arenaCount - size)
    let memory = UnsafeMutablePointer<Double>.allocate(capacity: own)
    memory.initialize(repeating: 0, count: own)
    arena = memory
    scratchBase = memory + (scratchOffset - size)
    gemmWorkspaceBase = memory + (gemmWorkspaceOffset - size)
    constantTable = Plan.copy(constants.map(\.buffer.pointer))
    if let sharing {
      precondition(
        sharing.constantExtents == constantExtents && sharing.arenaCount == arenaCount,
        "an instance has its code's layout")
    }
    let extents = constantExtents
    tables =
      sharing?.tables
      ?? PlanTables(
        instructions: instructions, fused: fused, slices: slices, operandLists: operandLists,
        concatLists: concatLists, rowBlockProducts: rowBlockProducts,
        rowBlockSlots: (gemmWorkspaceOffset - scratchOffset) / FusedKernel.block
      ) { offset in
        if offset >= size { return offset - size }
        // A plan as built reads constants from their start; a corrupted one
        // (the verifier's tests) may not, and is verified, never run.
        var (lo, hi) = (0, extents.count - 1)
        while lo < hi {
          let mid = (lo + hi + 1) / 2
          if extents[mid].lowerBound <= offset { lo = mid } else { hi = mid - 1 }
        }
        return ~lo
      }
    instructionBuffer = tables.instructionBuffer
    stepBuffer = tables.stepBuffer
    kernelBuffer = tables.kernelBuffer
    broadcastBuffer = tables.broadcastBuffer
    sliceBuffer = tables.sliceBuffer
    listStarts = tables.listStarts
    listBuffer = tables.listBuffer
    concatStarts = tables.concatStarts
    concatBuffer = tables.concatBuffer
    rowBlockBuffer = tables.rowBlockBuffer
  }

  deinit {
    arena.deallocate()
    constantTable.deallocate()
  }

  /// Where each list starts in the flattened table, then the total.
  static func starts<T>(_ lists: [[T]]) -> [Int] {
    var starts = [0]
    for l in lists { starts.append(starts.last! + l.count) }
    return starts
  }

  /// Exactly `xs.count` initialized elements (an empty table is an empty
  /// buffer over a one-element allocation, never uninitialized memory).
  static func copy<T>(_ xs: [T]) -> UnsafeMutableBufferPointer<T> {
    let base = UnsafeMutablePointer<T>.allocate(capacity: max(1, xs.count))
    let b = UnsafeMutableBufferPointer(start: base, count: xs.count)
    _ = b.initialize(from: xs)
    return b
  }

  /// Where an arena offset (as the public tables give them) is in memory:
  /// the plan's own, or a shared constant (read only).
  public func address(_ offset: Int) -> UnsafeMutablePointer<Double> {
    if offset >= constantsSize { return arena + (offset - constantsSize) }
    let k = constantExtents.lastIndex { $0.lowerBound <= offset }!
    return constantTable[k] + (offset - constantExtents[k].lowerBound)
  }

  /// Pointer to a value the interpreter's raw tables name.
  @inline(__always)
  func rawAddress<I: BinaryInteger>(_ raw: I) -> UnsafeMutablePointer<Double> {
    raw >= 0 ? arena + Int(raw) : constantTable[Int(~raw)]
  }

  /// Writes a parameter's values (a variable or input, for one task or all).
  public func write(_ leaf: Op, task: Int? = nil, _ values: [Double]) {
    for p in parameters where p.leaf == leaf && (p.task == task || p.task == nil) {
      precondition(values.count == p.shape.count, "\(leaf) takes \(p.shape.count) values")
      values.withUnsafeBufferPointer {
        address(p.offset).update(from: $0.baseAddress!, count: $0.count)
      }
    }
  }

  public func read(_ output: Int) -> Tensor {
    let o = outputs[output]
    return Tensor(
      shape: o.shape,
      scalars: Array(UnsafeBufferPointer(start: address(o.offset), count: o.shape.count)))
  }

  /// Evaluates with every parameter taken from `leaves`: the convenient,
  /// allocating form for tests and one-off evaluations.
  public func evaluate(_ leaves: LeafValues) -> [Tensor] {
    for p in parameters {
      let t: Tensor
      switch p.leaf {
      case .variable(let i): t = leaves.variable(i, p.task)
      case .input(let i): t = leaves.input(i, p.task)
      default: preconditionFailure("\(p.leaf) is not a parameter")
      }
      write(p.leaf, task: p.task, t.scalars)
    }
    run()
    return outputs.indices.map(read)
  }
}
