import BilevelFrontEnd
import Testing

@testable import BilevelCore

/// Plan.verify on deliberately corrupted plans: a wrong offset, size, order
/// or table entry that would otherwise corrupt memory silently is reported
/// at the faulty instruction.
@Suite struct PlanVerifierTests {
  /// sum(exp(A v)) and Aᵀ(A v) − v: a product, a fused reduction, a
  /// transposed product feeding a fused kernel.
  static func plan() -> Plan {
    var g = Graph()
    let a = g.make(.variable(0), shape: .matrix(4, 4))
    let v = g.make(.variable(1), shape: .vector(4))
    let p = g.make(.matmul(transposeLeft: false, transposeRight: false), [a, v])
    let loss = g.make(.reduce(.sum, .all), [g.make(.unary(.exp), [p])])
    let q = g.make(.matmul(transposeLeft: true, transposeRight: false), [a, p])
    let r = g.make(.binary(.subtract), [q, v])
    var program = Program(file: SourceFile(path: "<verify>", text: ""))
    program.graph = g
    let range = SourceRange(file: program.file, start: 0, end: 0)
    program.variables = [Shape.matrix(4, 4), .vector(4)].enumerated().map { k, s in
      Variable(
        name: "v\(k)", level: .inner, shape: s, perTask: false, initial: a, bounds: nil,
        range: range)
    }
    return PlanBuilder.build(program, roots: [loss, r], reassociate: false)
  }

  /// The plan with some of its tables replaced, as built (no verification).
  static func corrupted(
    _ p: Plan, instructions: [Instruction]? = nil, fused: [FusedKernel]? = nil,
    outputs: [Plan.Output]? = nil, parameters: [Plan.Parameter]? = nil,
    outputCounts: [Int]? = nil
  ) -> Plan {
    Plan(
      instructions: instructions ?? p.instructions, fused: fused ?? p.fused, slices: p.slices,
      operandLists: p.operandLists,
      concatLists: p.concatLists, parameters: parameters ?? p.parameters,
      outputs: outputs ?? p.outputs,
      provenance: p.provenance, origins: p.origins, stepOrigins: p.stepOrigins,
      outputCounts: outputCounts ?? p.outputCounts,
      statistics: p.statistics,
      constants: p.constantBuffers,
      scratchOffset: p.scratchOffset, gemmWorkspaceOffset: p.gemmWorkspaceOffset,
      arenaCount: p.arenaCount)
  }

  static func error(_ p: Plan) -> PlanVerificationError? {
    do throws(PlanVerificationError) {
      try p.verify()
      return nil
    } catch {
      return error
    }
  }

  static func index(_ p: Plan, _ matches: (Opcode) -> Bool) throws -> Int {
    try #require(p.instructions.firstIndex { matches($0.opcode) })
  }

  @Test func theBuiltPlanPassesAndHasTheExpectedShape() throws {
    let p = Self.plan()
    try p.verify()
    #expect(p.instructions.count == 4)
    #expect(p.fused.count == 2)
  }

  @Test func anOutOfArenaResultIsReported() throws {
    let p = Self.plan()
    var code = p.instructions
    code[1].output = Int32(p.arenaCount - 1)
    let e = try #require(Self.error(Self.corrupted(p, instructions: code)))
    #expect(e.instruction == 1)
    #expect(e.message.contains("outside the arena") || e.message.contains("not in the work region"))
  }

  @Test func anOperandOffByOneIsReported() throws {
    let p = Self.plan()
    let pc = try Self.index(p) { if case .matmul(true, _) = $0 { true } else { false } }
    var code = p.instructions
    code[pc].b += 1
    let e = try #require(Self.error(Self.corrupted(p, instructions: code)))
    #expect(e.instruction == pc)
    #expect(e.message.contains("operand b"))
  }

  @Test func aResultWrittenIntoTheParametersIsReported() throws {
    let p = Self.plan()
    var code = p.instructions
    code[0].output = Int32(p.parameters[0].offset)
    let e = try #require(Self.error(Self.corrupted(p, instructions: code)))
    #expect(e.instruction == 0)
    #expect(e.message.contains("not in the work region"))
  }

  @Test func aSizeTheKernelDisagreesWithIsReported() throws {
    let p = Self.plan()
    let pc = try Self.index(p) { if case .matmul(false, _) = $0 { true } else { false } }
    var code = p.instructions
    code[pc].k = 3
    let e = try #require(Self.error(Self.corrupted(p, instructions: code)))
    #expect(e.instruction == pc)
    #expect(e.message.contains("not one whole parameter"))
  }

  @Test func aValueReadBeforeItIsWrittenIsReported() throws {
    let p = Self.plan()
    // The first product feeds everything else: run it last.
    var code = p.instructions
    let first = code.removeFirst()
    code.append(first)
    var counts = p.outputCounts
    counts.append(counts.removeFirst())
    let e = try #require(Self.error(Self.corrupted(p, instructions: code, outputCounts: counts)))
    #expect(e.instruction == 0)
    #expect(e.message.contains("read before"))
  }

  @Test func aFusedStepReadingALaterRegisterIsReported() throws {
    let p = Self.plan()
    let k = try #require(p.fused.firstIndex { $0.steps.count >= 1 && $0.reduction == nil })
    var kernels = p.fused
    let old = kernels[k]
    let step = FusedKernel.Step(
      function: .binary(.add), a: old.steps[0].a, b: .register(old.steps.count))
    kernels[k] = FusedKernel(
      rows: old.rows, columns: old.columns, steps: [step] + old.steps.dropFirst(), nodes: old.nodes,
      reduction: old.reduction)
    let e = try #require(Self.error(Self.corrupted(p, fused: kernels)))
    #expect(e.message.contains("register"))
  }

  @Test func aFusedOperandPastTheArenaIsReported() throws {
    let p = Self.plan()
    var kernels = p.fused
    let old = kernels[0]
    let step = FusedKernel.Step(
      function: old.steps[0].function, a: .operand(offset: p.arenaCount - 2, role: .same),
      b: old.steps[0].b)
    kernels[0] = FusedKernel(
      rows: old.rows, columns: old.columns, steps: [step] + old.steps.dropFirst(), nodes: old.nodes,
      reduction: old.reduction)
    #expect(
      try #require(Self.error(Self.corrupted(p, fused: kernels))).message.contains(
        "outside the arena"))
  }

  @Test func aTableIndexOutOfRangeIsReported() throws {
    let p = Self.plan()
    let pc = try #require(p.instructions.firstIndex { $0.fusedKernel != nil })
    var code = p.instructions
    code[pc].opcode = .fused(kernel: Int32(p.fused.count))
    let e = try #require(Self.error(Self.corrupted(p, instructions: code)))
    #expect(e.instruction == pc)
    #expect(e.message.contains("not in the table"))
  }

  @Test func overlappingParametersAndOutputsAreReported() throws {
    let p = Self.plan()
    let moved = p.parameters.map {
      Plan.Parameter(
        leaf: $0.leaf, task: $0.task, offset: p.parameters[0].offset + 1, shape: $0.shape)
    }
    #expect(
      try #require(Self.error(Self.corrupted(p, parameters: moved))).message.contains("parameter"))
    let shifted = [
      p.outputs[0],
      Plan.Output(
        node: p.outputs[1].node, offset: p.outputs[1].offset + 1, shape: p.outputs[1].shape),
    ]
    #expect(
      try #require(Self.error(Self.corrupted(p, outputs: shifted))).message.contains("output 1"))
  }

  @Test func theReportShowsTheInstructionsAroundTheFault() throws {
    let p = Self.plan()
    var code = p.instructions
    code[2].a = -5
    let e = try #require(Self.error(Self.corrupted(p, instructions: code)))
    let lines = e.description.split(separator: "\n")
    #expect(lines[0].contains("at instruction 2"))
    #expect(lines.contains { $0.hasPrefix("> 2: w") })
    #expect(lines.contains { $0.hasPrefix("  0: w") } && lines.contains { $0.hasPrefix("  3: w") })
  }

  @Test func theMemoryPlanCheckFindsLiveBuffersThatOverlap() {
    let buffers = (0..<4).map { MemoryPlanner.Buffer(size: 10, firstUse: $0, lastUse: $0 + 1) }
    let placement = MemoryPlanner.place(buffers)
    #expect(MemoryPlanner.overlap(buffers, placement) == nil)
    let broken = MemoryPlanner.Placement(
      offsets: [0, 5, 0, 10], size: placement.size, maximumLive: placement.maximumLive,
      withoutReuse: placement.withoutReuse)
    #expect(MemoryPlanner.overlap(buffers, broken)?.contains("buffers 0") == true)
  }
}
