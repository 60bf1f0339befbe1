import Foundation

/// Plans shared by tasks of the same shapes. Per-task values reach a plan
/// only as bindings: variables and inputs as parameters the caller writes,
/// per-task data and what is computed from them as constants read through
/// the plan's constant table (never as immediates: PlanBuilder.hoistConstants).
/// So the plan of a root for task t differs from task 0's only in those
/// bindings, and one built plan (its code: instructions, fused kernels,
/// memory plan, task-independent constants) serves every task, each task
/// with an instance of its own: a fresh arena and task t's constants.

/// The raw tables the interpreter reads, made once per plan code and
/// shared by its instances (read only once made).
final class PlanTables: @unchecked Sendable {
  let instructionBuffer: UnsafeMutableBufferPointer<Instruction>
  let stepBuffer: UnsafeMutableBufferPointer<FusedKernel.Step>
  let kernelBuffer: UnsafeMutableBufferPointer<FusedKernel.Header>
  let broadcastBuffer: UnsafeMutableBufferPointer<FusedKernel.RowBlockBroadcast>
  let sliceBuffer: UnsafeMutableBufferPointer<SliceSpec>
  let listStarts: UnsafeMutableBufferPointer<Int>
  let listBuffer: UnsafeMutableBufferPointer<Int>
  let concatStarts: UnsafeMutableBufferPointer<Int>
  let concatBuffer: UnsafeMutableBufferPointer<ConcatPart>
  let rowBlockBuffer: UnsafeMutableBufferPointer<RowBlockFusion>

  /// `raw`: an arena offset as the interpreter reads it (constants: `~k`).
  init(
    instructions: [Instruction], fused: [FusedKernel], slices: [SliceSpec], operandLists: [[Int]],
    concatLists: [[ConcatPart]], rowBlockProducts: [RowBlockFusion],
    rowBlockSlots: Int, raw: (Int) -> Int
  ) {
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
    // Narrow kernels' row-block forms (FusedRowBlocks.swift) follow the steps.
    let rowBlocks = FusedKernel.RowBlockTables(fused, rawSteps: steps, slots: rowBlockSlots)
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
    rowBlockBuffer = Plan.copy(
      rowBlockProducts.map {
        RowBlockFusion(
          firstKernel: $0.firstKernel, kernelCount: $0.kernelCount, list: $0.list,
          rowValueCount: $0.rowValueCount, workspace: raw($0.workspace))
      })
  }

  deinit {
    instructionBuffer.deallocate()
    stepBuffer.deallocate()
    kernelBuffer.deallocate()
    broadcastBuffer.deallocate()
    sliceBuffer.deallocate()
    listStarts.deallocate()
    listBuffer.deallocate()
    concatStarts.deallocate()
    concatBuffer.deallocate()
    rowBlockBuffer.deallocate()
  }
}

/// What rebinding a plan to another task changes: the task of its per-task
/// parameters, and its per-task constants (by index into its constants,
/// with the node the program's pool keys them by). `task`: the one bound now.
struct TaskBinding: Sendable {
  var task: Int
  let perTaskConstants: [(index: Int, poolNode: Int)]
}

extension Plan {
  /// A new instance of this plan's code bound to task `t`: its own arena.
  func instance(forTask t: Int, pool: ConstantPool) -> Plan {
    let plan = Plan(
      instructions: instructions, fused: fused, slices: slices, operandLists: operandLists,
      concatLists: concatLists, rowBlockProducts: rowBlockProducts, parameters: parameters,
      outputs: outputs, provenance: provenance,
      origins: origins, stepOrigins: stepOrigins, outputCounts: outputCounts,
      statistics: statistics, constants: constantBuffers, scratchOffset: scratchOffset,
      gemmWorkspaceOffset: gemmWorkspaceOffset, arenaCount: arenaCount, sharing: self)
    plan.sourceNodes = sourceNodes
    plan.sourceStepNodes = sourceStepNodes
    plan.rewrites = rewrites
    plan.kind = kind
    plan.taskBinding = taskBinding
    plan.rebind(toTask: t, pool: pool)
    return plan
  }

  /// Points the per-task constants at task t's values and relabels the
  /// per-task parameters; the arena is left as it is (callers load what
  /// they read). Only the thread the instance belongs to calls it.
  func rebind(toTask t: Int, pool: ConstantPool) {
    guard var binding = taskBinding, binding.task != t else { return }
    let buffers = pool.values(poolNodes: binding.perTaskConstants.map(\.poolNode), task: t)
    for (k, buffer) in zip(binding.perTaskConstants.map(\.index), buffers) {
      precondition(buffer.count == constantBuffers[k].buffer.count, "tasks share shapes")
      constantBuffers[k].buffer = buffer
      constantTable[k] = buffer.pointer
    }
    let old = binding.task
    parameters = parameters.map {
      Parameter(
        leaf: $0.leaf, task: $0.task == old ? t : $0.task, offset: $0.offset, shape: $0.shape)
    }
    binding.task = t
    taskBinding = binding
  }

  /// The task the plan's per-task values are those of (nil: not shared by tasks).
  public var boundTask: Int? { taskBinding?.task }

  /// Whether the plan may run for `task` on this thread: always for a plan
  /// of its own; for a shared one, when it is this thread's instance bound to `task`.
  public func isBound(to task: Int?) -> Bool {
    guard let binding = taskBinding, kind != nil else { return true }
    return binding.task == task && owner == currentThreadKey()
  }

  /// Whether two plans run the same code (one is an instance of the other's).
  public func sharesCode(with other: Plan) -> Bool { tables === other.tables }
}

/// The calling thread, as the key of its plan instances.
func currentThreadKey() -> UInt { UInt(bitPattern: Int(bitPattern: UInt(pthread_self()))) }

extension ConstantPool {
  /// The roots a per-task plan computes: with the pool's program, its kind.
  struct PlanKind: Hashable, Sendable {
    let roots: [NodeID]
    let reassociate: Bool
    let fuseRowBlocks: Bool
  }

  /// A kind's first plan and each thread's instance of its code, behind
  /// the slot's own lock (building one kind does not hold up another's).
  final class PlanSlot: @unchecked Sendable {
    let lock = NSLock()
    var template: Plan?
    var instances: [UInt: Plan] = [:]
  }

  /// The plan of `kind` for `task` on the calling thread: the thread's
  /// instance of the kind's code, rebound to `task`, when the kind's first
  /// plan can be rebound; else `build()` (a plan of its own).
  func plan(_ kind: PlanKind, task: Int, build: () -> Plan) -> Plan {
    plansLock.lock()
    let slot = planSlots[kind] ?? PlanSlot()
    planSlots[kind] = slot
    plansLock.unlock()
    slot.lock.lock()
    defer { slot.lock.unlock() }
    guard sharesPlans else {
      countBuilt()
      return build()
    }
    guard let template = slot.template else {
      let plan = build()
      plan.kind = kind
      plan.owner = currentThreadKey()
      slot.template = plan
      if plan.taskBinding != nil { slot.instances[plan.owner] = plan }
      countBuilt()
      return plan
    }
    guard template.taskBinding != nil else {
      countBuilt()
      return build()
    }
    return instance(in: slot, task: task)
  }

  /// The calling thread's instance in `slot`, bound to `task`.
  func instance(in slot: PlanSlot, task: Int) -> Plan {
    let thread = currentThreadKey()
    if let own = slot.instances[thread] {
      own.rebind(toTask: task, pool: self)
      return own
    }
    let made = slot.template!.instance(forTask: task, pool: self)
    made.owner = thread
    slot.instances[thread] = made
    return made
  }

  /// The calling thread's instance of `plan`'s code bound to `task`: how a
  /// task's compiled function takes up its plan on the thread that runs it.
  public func rebound(_ plan: Plan, task: Int) -> Plan {
    guard let kind = plan.kind, plan.taskBinding != nil else { return plan }
    plansLock.lock()
    let slot = planSlots[kind]!
    plansLock.unlock()
    slot.lock.lock()
    defer { slot.lock.unlock() }
    return instance(in: slot, task: task)
  }

  /// Whether tasks share plan code (false: every task's plan is built for
  /// it, as before sharing; for tests comparing the two). Set before any plan is built.
  public var sharesPlans: Bool {
    get {
      plansLock.lock()
      defer { plansLock.unlock() }
      return sharing
    }
    set {
      plansLock.lock()
      sharing = newValue
      plansLock.unlock()
    }
  }

  func countBuilt() {
    plansLock.lock()
    builtPlans += 1
    plansLock.unlock()
  }

  /// Plans built from a graph for per-task roots (instances not counted): for tests and the bench.
  public var distinctPlans: Int {
    plansLock.lock()
    defer { plansLock.unlock() }
    return builtPlans
  }

  /// The values of pool nodes (as a plan's task binding names them) for `task`.
  func values(poolNodes: [Int], task: Int) -> [Buffer] {
    locked {
      let keys = poolNodes.map { Key(node: $0, task: task) }
      var missing: [Key] = []
      for k in keys where buffers[k] == nil && !missing.contains(k) { missing.append(k) }
      if !missing.isEmpty { compute(missing, task: task) }
      return keys.map { buffers[$0]! }
    }
  }
}
