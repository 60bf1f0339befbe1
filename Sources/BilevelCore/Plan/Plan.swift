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
// Unchecked: run() writes the raw arena, so a plan is used by one thread at a time (each task has its own).
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
  public let parameters: [Parameter]
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
  let constantBuffers: [(offset: Int, buffer: ConstantPool.Buffer)]
  /// The plan's own memory: the arena from the parameters on (offset
  /// `constantsSize`). Read and write through `address(_:)`.
  public let arena: UnsafeMutablePointer<Double>
  /// Doubles before the parameters in the offsets: the shared constants.
  let constantsSize: Int
  /// Where the fused kernels' registers and GEMM's packing space are.
  let scratchBase: UnsafeMutablePointer<Double>
  let gemmWorkspaceBase: UnsafeMutablePointer<Double>

  // Raw copies for the interpreter, offsets into `arena` (constants: `~k`).
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

  init(
    instructions: [Instruction], fused: [FusedKernel], slices: [SliceSpec], operandLists: [[Int]],
    concatLists: [[ConcatPart]],
    parameters: [Parameter], outputs: [Output], provenance: [NodeID], origins: [SourceRange?],
    stepOrigins: [[SourceRange?]], outputCounts: [Int],
    statistics: Statistics,
    constants: [(offset: Int, buffer: ConstantPool.Buffer)], scratchOffset: Int,
    gemmWorkspaceOffset: Int,
    arenaCount: Int
  ) {
    self.instructions = instructions
    self.fused = fused
    self.slices = slices
    self.operandLists = operandLists
    self.concatLists = concatLists
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
    let extents = constantExtents
    /// An arena offset as the interpreter reads it.
    func raw(_ offset: Int) -> Int {
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
    func rawSource(_ s: FusedKernel.Source) -> FusedKernel.Source {
      if case .operand(let offset, let role) = s {
        return .operand(offset: raw(offset), role: role)
      }
      return s
    }
    instructionBuffer = Plan.copy(
      instructions.map { ins in
        var r = ins
        r.output = Int32(raw(Int(ins.output)))
        r.a = Int32(raw(Int(ins.a)))
        r.b = Int32(raw(Int(ins.b)))
        if case .solve(let w) = ins.opcode { r.opcode = .solve(workspace: Int32(raw(Int(w)))) }
        return r
      })
    let steps = fused.flatMap(\.steps).map {
      FusedKernel.Step(function: $0.function, a: rawSource($0.a), b: rawSource($0.b))
    }
    let rowBlocks = FusedKernel.RowBlockTables(
      fused, rawSteps: steps, slots: (gemmWorkspaceOffset - scratchOffset) / FusedKernel.block)
    stepBuffer = Plan.copy(steps + rowBlocks.steps)
    kernelBuffer = Plan.copy(rowBlocks.headers)
    broadcastBuffer = Plan.copy(rowBlocks.broadcasts)
    sliceBuffer = Plan.copy(slices)
    listStarts = Plan.copy(Plan.starts(operandLists))
    listBuffer = Plan.copy(operandLists.flatMap { $0 }.map(raw))
    concatStarts = Plan.copy(Plan.starts(concatLists))
    concatBuffer = Plan.copy(
      concatLists.flatMap { $0 }.map {
        ConcatPart(offset: raw($0.offset), rows: $0.rows, columns: $0.columns)
      })
  }

  deinit {
    arena.deallocate()
    constantTable.deallocate()
    instructionBuffer.deallocate()
    stepBuffer.deallocate()
    kernelBuffer.deallocate()
    broadcastBuffer.deallocate()
    sliceBuffer.deallocate()
    listStarts.deallocate()
    listBuffer.deallocate()
    concatStarts.deallocate()
    concatBuffer.deallocate()
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
