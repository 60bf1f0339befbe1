/// A plan that breaks one of its invariants, with the instructions around the fault.
public struct PlanVerificationError: Error, CustomStringConvertible {
  /// The faulty instruction, when the fault is in one.
  public let instruction: Int?
  public let message: String
  /// The instructions a few either side of the fault, the faulty one marked.
  public let context: String

  public var description: String {
    "plan verification failed\(instruction.map { " at instruction \($0)" } ?? ""): \(message)\n\(context)"
  }
}

extension Plan {
  /// Checks what the interpreter takes on trust: every operand and result
  /// inside the arena and in the region it belongs to, each instruction's
  /// sizes agreeing with what its kernel reads and writes, table indices and
  /// fused-kernel registers valid, no result overlapping its own operands,
  /// every value read whole, as last written by the instruction that
  /// produced it (so no slot is read before it is written or after it is
  /// reused), and outputs and parameters where they must be.
  public func verify() throws(PlanVerificationError) {
    var verifier = PlanVerifier(plan: self)
    try verifier.run()
  }

  /// Checks the plan in debug builds; a failure stops with the IR around the
  /// fault, naming the pass that produced it.
  func verifyInDebugBuilds(_ pass: @autoclosure () -> String) {
    #if DEBUG
      do throws(PlanVerificationError) {
        try verify()
      } catch {
        preconditionFailure("after \(pass()): \(error)")
      }
    #endif
  }

  /// Instructions `pc - 3 ... pc + 3` as `--emit plan` prints them, or raw
  /// where a table index is out of range.
  func neighbourhood(of pc: Int?, radius: Int = 3) -> String {
    guard !instructions.isEmpty else { return "  (no instructions)" }
    let centre = min(pc ?? instructions.count - 1, instructions.count - 1)
    let range = max(0, centre - radius)...min(instructions.count - 1, centre + radius)
    return range.map { k in
      let ins = instructions[k]
      let text =
        tablesValid(ins)
        ? describe(ins) : "\(ins.opcode) a \(ins.a), b \(ins.b), m \(ins.m), n \(ins.n), k \(ins.k)"
      return "\(k == pc ? ">" : " ") \(k): \(slot(Int(ins.output))) = \(text)"
    }.joined(separator: "\n")
  }

  /// Whether the instruction's table indices are in range (so it can be printed).
  func tablesValid(_ ins: Instruction) -> Bool {
    switch ins.opcode {
    case .fused(let k), .scalar(let k, _): return fused.indices.contains(Int(k))
    case .slice(let s): return slices.indices.contains(Int(s))
    case .concat(let l, _): return concatLists.indices.contains(Int(l))
    case .taskSum(let l), .taskMean(let l): return operandLists.indices.contains(Int(l))
    case .rowBlockProduct(let r):
      guard rowBlockProducts.indices.contains(Int(r)) else { return false }
      let f = rowBlockProducts[Int(r)]
      return f.kernelCount >= 1 && f.firstKernel + f.kernelCount <= fused.count
        && operandLists.indices.contains(f.list)
        && operandLists[f.list].count == f.kernelCount + 2 * f.rowValueCount
    default: return true
    }
  }
}

/// One pass over a plan in execution order, tracking which instruction last
/// wrote each entry of the work region.
struct PlanVerifier {
  /// A range of the arena an instruction reads or writes.
  struct Access {
    let offset: Int
    let count: Int
    let what: String
    var end: Int { offset + count }
    func overlaps(_ o: Access) -> Bool {
      count > 0 && o.count > 0 && offset < o.end && o.offset < end
    }
  }

  let plan: Plan
  let constants: Range<Int>
  let parameters: Range<Int>
  let work: Range<Int>
  /// Per work entry, the instruction that last wrote it (−1: none yet).
  var writer: [Int]
  /// Per instruction, what it wrote (the result first; a row-block
  /// product's u and w are read later too).
  var results: [[Access]] = []
  let firstSteps: [Int]
  /// The constants' and parameters' extents: a read there takes one whole.
  let leaves: Set<Range<Int>>

  init(plan: Plan) {
    self.plan = plan
    let s = plan.statistics
    constants = 0..<s.constants
    parameters = s.constants..<(s.constants + s.parameters)
    work = parameters.upperBound..<(parameters.upperBound + s.work)
    writer = Array(repeating: -1, count: s.work)
    firstSteps = Plan.starts(plan.fused.map(\.steps))
    leaves = Set(
      plan.constantExtents + plan.parameters.map { $0.offset..<($0.offset + $0.shape.count) })
  }

  func fail(_ pc: Int?, _ message: String) -> PlanVerificationError {
    PlanVerificationError(instruction: pc, message: message, context: plan.neighbourhood(of: pc))
  }

  mutating func run() throws(PlanVerificationError) {
    try checkLayout()
    for pc in plan.instructions.indices {
      let (reads, writes) = try PlanAccesses(plan: plan, pc: pc, firstSteps: firstSteps).accesses()
      for a in reads + writes {
        guard a.count >= 0, a.offset >= 0, a.end <= plan.arenaCount else {
          throw fail(
            pc, "\(a.what) [\(a.offset), \(a.end)) is outside the arena of \(plan.arenaCount)")
        }
      }
      for r in reads { try checkRead(r, at: pc) }
      guard plan.outputCounts[pc] == writes[0].count else {
        throw fail(
          pc,
          "the kernel writes \(writes[0].count) entries, the plan records \(plan.outputCounts[pc])")
      }
      for (k, w) in writes.enumerated() {
        guard w.count == 0 || (work.contains(w.offset) && w.end <= work.upperBound) else {
          throw fail(pc, "\(w.what) [\(w.offset), \(w.end)) is not in the work region \(work)")
        }
        if let r = reads.first(where: w.overlaps) { throw fail(pc, "\(w.what) overlaps \(r.what)") }
        if let other = writes[..<k].first(where: w.overlaps) {
          throw fail(pc, "\(w.what) overlaps \(other.what)")
        }
        for e in w.offset..<w.end { writer[e - work.lowerBound] = pc }
      }
      results.append(writes)
    }
    try checkParametersAndOutputs()
  }

  /// Regions in order, scratch after the work region, side tables one entry per instruction.
  func checkLayout() throws(PlanVerificationError) {
    let p = plan
    guard work.upperBound <= p.scratchOffset, p.scratchOffset <= p.gemmWorkspaceOffset,
      p.gemmWorkspaceOffset <= p.arenaCount,
      p.statistics.scratch == p.arenaCount - p.scratchOffset
    else {
      throw fail(
        nil,
        "regions out of order: work ends at \(work.upperBound), scratch \(p.scratchOffset), "
          + "GEMM workspace \(p.gemmWorkspaceOffset), arena \(p.arenaCount), scratch size \(p.statistics.scratch)"
      )
    }
    let n = p.instructions.count
    guard p.provenance.count == n, p.origins.count == n, p.outputCounts.count == n,
      p.stepOrigins.count == p.fused.count
    else {
      throw fail(nil, "side tables do not match the \(n) instructions and \(p.fused.count) kernels")
    }
  }

  /// A read lies in one readable region; in the work region it is a whole
  /// value as its producer wrote it, not overwritten since.
  func checkRead(_ r: Access, at pc: Int?) throws(PlanVerificationError) {
    guard r.count > 0 else { return }
    let range = "\(r.what) [\(r.offset), \(r.end))"
    if constants.contains(r.offset) || parameters.contains(r.offset) {
      let region = constants.contains(r.offset) ? constants : parameters
      guard r.end <= region.upperBound else {
        throw fail(pc, "\(range) runs past its region \(region)")
      }
      guard leaves.contains(r.offset..<r.end) else {
        throw fail(
          pc, "\(range) is not one whole \(region == constants ? "constant" : "parameter")")
      }
      return
    }
    guard work.contains(r.offset), r.end <= work.upperBound else {
      throw fail(pc, "\(range) is not in the constants, parameters or work region")
    }
    let w = writer[r.offset - work.lowerBound]
    guard w >= 0 else { throw fail(pc, "\(range) is read before any instruction writes it") }
    guard (r.offset..<r.end).allSatisfy({ writer[$0 - work.lowerBound] == w }),
      results[w].contains(where: { $0.offset == r.offset && $0.count == r.count })
    else {
      throw fail(
        pc,
        "\(range) is not the value instruction \(w) wrote at [\(results[w][0].offset), \(results[w][0].end)) "
          + "(read before written, or after its slot was reused)")
    }
  }

  /// Parameters inside their region and disjoint; outputs readable after
  /// the run, and identical or disjoint.
  func checkParametersAndOutputs() throws(PlanVerificationError) {
    let placed = plan.parameters.map {
      Access(offset: $0.offset, count: $0.shape.count, what: "parameter \($0.leaf)")
    }
    for (k, p) in placed.enumerated() {
      guard p.offset >= parameters.lowerBound, p.end <= parameters.upperBound else {
        throw fail(
          nil, "\(p.what) [\(p.offset), \(p.end)) is not in the parameters region \(parameters)")
      }
      if let q = placed[..<k].first(where: p.overlaps) {
        throw fail(nil, "\(p.what) overlaps \(q.what)")
      }
    }
    let outputs = plan.outputs.enumerated().map {
      Access(offset: $1.offset, count: $1.shape.count, what: "output \($0)")
    }
    for (k, o) in outputs.enumerated() {
      guard o.offset >= 0, o.end <= plan.arenaCount else {
        throw fail(
          nil, "\(o.what) [\(o.offset), \(o.end)) is outside the arena of \(plan.arenaCount)")
      }
      try checkRead(o, at: nil)
      if let q = outputs[..<k].first(where: {
        o.overlaps($0) && ($0.offset != o.offset || $0.count != o.count)
      }) {
        throw fail(nil, "\(o.what) partly overlaps \(q.what)")
      }
    }
  }
}
