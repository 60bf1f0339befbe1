import BilevelFrontEnd

/// A compiled execution plan: instructions over one arena of doubles. The
/// arena holds, in order, the hoisted constants (data and everything
/// computed from data alone, evaluated once when the plan is built), the
/// parameters (variables and inputs, written by the caller), and the work
/// region, whose buffers are reused as values die.
///
/// The tables the interpreter reads are copied into raw memory owned by the
/// plan, so its loop retains nothing and allocates nothing.
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
  public let arena: UnsafeMutablePointer<Double>

  // Raw copies for the interpreter.
  let instructionBuffer: UnsafeMutableBufferPointer<Instruction>
  let stepBuffer: UnsafeMutableBufferPointer<FusedKernel.Step>
  let kernelBuffer: UnsafeMutableBufferPointer<FusedKernel.Header>
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
    constants: [(offset: Int, values: [Double])], scratchOffset: Int, gemmWorkspaceOffset: Int,
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
    constantExtents = constants.map { $0.offset..<($0.offset + $0.values.count) }
    let memory = UnsafeMutablePointer<Double>.allocate(capacity: max(1, arenaCount))
    memory.initialize(repeating: 0, count: max(1, arenaCount))
    for c in constants where !c.values.isEmpty {
      c.values.withUnsafeBufferPointer {
        (memory + c.offset).update(from: $0.baseAddress!, count: $0.count)
      }
    }
    arena = memory
    instructionBuffer = Plan.copy(instructions)
    stepBuffer = Plan.copy(fused.flatMap(\.steps))
    var first = 0
    kernelBuffer = Plan.copy(
      fused.map { k in
        defer { first += k.steps.count }
        return FusedKernel.Header(
          first: first, count: k.steps.count, rows: k.rows, columns: k.columns,
          reduction: k.reduction)
      })
    sliceBuffer = Plan.copy(slices)
    listStarts = Plan.copy(Plan.starts(operandLists))
    listBuffer = Plan.copy(operandLists.flatMap { $0 })
    concatStarts = Plan.copy(Plan.starts(concatLists))
    concatBuffer = Plan.copy(concatLists.flatMap { $0 })
  }

  deinit {
    arena.deallocate()
    instructionBuffer.deallocate()
    stepBuffer.deallocate()
    kernelBuffer.deallocate()
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

  /// Writes a parameter's values (a variable or input, for one task or all).
  public func write(_ leaf: Op, task: Int? = nil, _ values: [Double]) {
    for p in parameters where p.leaf == leaf && (p.task == task || p.task == nil) {
      precondition(values.count == p.shape.count, "\(leaf) takes \(p.shape.count) values")
      values.withUnsafeBufferPointer {
        (arena + p.offset).update(from: $0.baseAddress!, count: $0.count)
      }
    }
  }

  public func read(_ output: Int) -> Tensor {
    let o = outputs[output]
    return Tensor(
      shape: o.shape,
      scalars: Array(UnsafeBufferPointer(start: arena + o.offset, count: o.shape.count)))
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
