import BilevelFrontEnd
import Foundation

/// What a program's plans compute from data alone (XᵀX, Xᵀy, the data
/// themselves), computed once per program and kept in one buffer per value
/// that every plan of the program reads.
///
/// Each plan simplifies and reassociates its own copy of the graph, so the
/// same value has different node IDs in different plans; the pool imports
/// every requested node into its own hash-consed graph, where equal
/// structure is one node, and keys the buffers by that node (and task).
/// Values are computed by a plan over the pool's graph in which the data
/// are parameters, so the interpreter's kernels (GEMM, fused loops) do the
/// work, not the reference evaluator.
// Unchecked: every use of the mutable state is under `lock`; buffers are written once, then read only.
public final class ConstantPool: @unchecked Sendable {
  /// One value, owned by the pool for as long as any plan holds it.
  public final class Buffer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Double>
    public let count: Int
    /// The entry when all entries are the same bits (fused kernels take it as an immediate).
    public let uniform: Double?

    init(copying source: UnsafeBufferPointer<Double>) {
      count = source.count
      pointer = .allocate(capacity: max(1, count))
      pointer.initialize(repeating: 0, count: max(1, count))
      if let base = source.baseAddress { pointer.update(from: base, count: count) }
      let first = count > 0 ? source[0] : 0
      var same = true
      for k in 0..<count where source[k].bitPattern != first.bitPattern {
        same = false
        break
      }
      uniform = same && count > 0 ? first : nil
    }

    deinit { pointer.deallocate() }

    public var values: [Double] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
  }

  struct Key: Hashable {
    let node: Int
    /// −1: the same for every task.
    let task: Int
  }

  let file: SourceFile
  let data: [DataEntry]
  let tasks: TaskRange?
  let lock = NSLock()
  /// Data-only nodes, data leaves as inputs (`.data(i)` becomes `.input(i)`).
  var graph = Graph()
  var buffers: [Key: Buffer] = [:]
  /// How many values were computed by a plan, and by how many plan runs (for tests).
  var computed = (values: 0, evaluations: 0)
  public var computedValues: Int { locked { computed.values } }
  public var evaluations: Int { locked { computed.evaluations } }
  /// Per-task plans by kind, and how many were built from a graph (PlanSharing.swift).
  let plansLock = NSLock()
  var planSlots: [PlanKind: PlanSlot] = [:]
  var builtPlans = 0
  var sharing = true

  public init(_ program: Program) {
    file = program.file
    data = program.data
    tasks = program.tasks
  }

  func locked<T>(_ body: () -> T) -> T {
    lock.lock()
    defer { lock.unlock() }
    return body()
  }

  /// The values of data-only nodes of `source` (a plan's graph over the
  /// same program), each for its task (−1 where it does not vary by task).
  public func values(_ requests: [(node: NodeID, task: Int)], in source: Graph) -> [Buffer] {
    keyedValues(requests, in: source).map(\.buffer)
  }

  /// The values with the pool node each is keyed by (what a task binding rebinds).
  func keyedValues(
    _ requests: [(node: NodeID, task: Int)], in source: Graph
  ) -> [(poolNode: Int, buffer: Buffer)] {
    lock.lock()
    defer { lock.unlock() }
    let mapped = importNodes(requests.map(\.node), from: source)
    let keys = requests.map { Key(node: mapped[$0.node.index]!.index, task: $0.task) }
    var missing: [Int: [Key]] = [:]
    for k in keys where buffers[k] == nil && !(missing[k.task]?.contains(k) ?? false) {
      missing[k.task, default: []].append(k)
    }
    for (task, group) in missing.sorted(by: { $0.key < $1.key }) {
      compute(group, task: task)
    }
    return keys.map { ($0.node, buffers[$0]!) }
  }

  /// `op(inputs)` on known tensors by the plan kernels: the inputs as data
  /// of a one-op program, computed as the pool computes hoisted products.
  public static func evaluate(_ op: Op, _ inputs: [Tensor], shape: Shape) -> Tensor {
    var program = Program(file: SourceFile(path: "<data>", text: ""))
    let range = SourceRange(file: program.file, start: 0, end: 0)
    var leaves: [NodeID] = []
    for (k, t) in inputs.enumerated() {
      program.data.append(
        DataEntry(
          name: "input\(k)", shape: t.shape, values: [t], perTask: false, range: range,
          definition: ""))
      leaves.append(program.graph.make(.data(k), shape: t.shape))
    }
    let node = program.graph.make(op, leaves, shape: shape)
    let buffer = ConstantPool(program).values([(node, -1)], in: program.graph)[0]
    return Tensor(shape: shape, scalars: buffer.values)
  }

  /// Data entry `i` (of `task`, for per-task data) as a buffer: the one
  /// copy that every plan reading the entry shares.
  func dataBuffer(_ i: Int, task: Int?) -> Buffer {
    let entry = data[i]
    let node = graph.make(.input(i), shape: entry.shape)
    let key = Key(node: node.index, task: entry.perTask ? task! : -1)
    if let b = buffers[key] { return b }
    let value = entry.perTask ? entry.values[task!] : entry.values[0]
    let b = value.scalars.withUnsafeBufferPointer { Buffer(copying: $0) }
    buffers[key] = b
    return b
  }

  /// Maps the nodes the requests need into the pool's graph, by ID.
  func importNodes(_ roots: [NodeID], from source: Graph) -> [Int: NodeID] {
    var mapped: [Int: NodeID] = [:]
    for id in source.reachable(from: roots) {
      let node = source[id]
      switch node.op {
      case .data(let i): mapped[id.index] = graph.make(.input(i), shape: node.shape)
      case .literal(let i): mapped[id.index] = graph.literal(source.literals[i])
      case .variable, .input:
        preconditionFailure("a value of data alone reads no variable or input")
      default:
        mapped[id.index] = graph.make(
          node.op, node.inputs.map { mapped[$0.index]! }, shape: node.shape)
      }
    }
    return mapped
  }

  /// Computes the missing values of one task with one plan over the pool's
  /// graph, which reads the data in place from the pool's buffers.
  func compute(_ keys: [Key], task: Int) {
    var program = Program(file: file)
    program.graph = graph
    program.tasks = tasks
    program.inputs = data.map { InputEntry(name: $0.name, shape: $0.shape, perTask: $0.perTask) }
    let roots = keys.map { NodeID($0.node) }
    let plan = PlanBuilder.build(
      program, roots: roots, task: task < 0 ? nil : task, reassociate: false,
      hoisting: .reference(inputs: dataBuffer))
    precondition(plan.parameters.isEmpty, "the pool's plans read data in place")
    plan.run()
    computed.evaluations += 1
    // Data requested as themselves already have their buffer (dataBuffer).
    for (k, output) in zip(keys, plan.outputs) where buffers[k] == nil {
      buffers[k] = Buffer(
        copying: UnsafeBufferPointer(start: plan.address(output.offset), count: output.shape.count))
      computed.values += 1
    }
  }
}
