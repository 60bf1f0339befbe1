import BilevelCore
import BilevelFrontEnd

/// A leaf a solver writes: a variable or an input, for one task or shared.
public struct Leaf: Sendable, Equatable {
  public let op: Op
  public let task: Int?
  public let count: Int
  public init(_ op: Op, task: Int?, count: Int) {
    self.op = op
    self.task = task
    self.count = count
  }
}

/// One argument's leaves in order, with where each sits: indexed once and
/// shared, since every task's functions may take every task's θ (an index
/// or a list per function would make task setup quadratic in the tasks).
public final class LeafLayout: Sendable {
  struct Key: Hashable {
    let op: Op
    let task: Int?
  }

  public let leaves: [Leaf]
  public let size: Int
  let places: [Key: [Place]]

  struct Place {
    let offset: Int
    let count: Int
  }

  public init(_ leaves: [Leaf]) {
    self.leaves = leaves
    var places: [Key: [Place]] = [:]
    var offset = 0
    for leaf in leaves {
      places[Key(op: leaf.op, task: leaf.task), default: []].append(
        Place(offset: offset, count: leaf.count))
      offset += leaf.count
    }
    self.places = places
    size = offset
  }
}

/// A plan seen as a function of flat vectors: each argument concatenates
/// some leaves, each result some roots. Loading and reading are copies
/// between caller-owned memory and the plan's arena, so a solver loop that
/// keeps its vectors allocates nothing. Its slots are bare numbers, so
/// callers go through `Compiled`, which names them; this untyped core is
/// public for what reads the plan alone (costs, arena sizes).
public final class CompiledFunction: Sendable {
  struct Copy {
    let vector: Int
    let arena: Int
    let count: Int
  }

  public let plan: Plan
  public let argumentSizes: [Int]
  public let resultSizes: [Int]
  let loads: [[Copy]]
  let stores: [[Copy]]

  /// Builds the plan of `results` (for `task`, when they vary by task) and
  /// binds every parameter it reads to a place in one of the arguments.
  public init(
    _ program: Program, arguments: [LeafLayout], results: [[NodeID]], task: Int?,
    constants: ConstantPool? = nil
  ) {
    let roots = results.flatMap { $0 }
    plan = PlanBuilder.build(program, roots: roots, task: task, constants: constants)
    argumentSizes = arguments.map(\.size)
    var loads = [[Copy]](repeating: [], count: arguments.count)
    for p in plan.parameters {
      var bound = false
      for (a, layout) in arguments.enumerated() {
        for place in layout.places[LeafLayout.Key(op: p.leaf, task: p.task)] ?? [] {
          precondition(
            place.count == p.shape.count,
            "\(p.leaf) has \(p.shape.count) entries, not \(place.count)")
          loads[a].append(Copy(vector: place.offset, arena: p.offset, count: place.count))
          bound = true
        }
      }
      precondition(
        bound,
        "the plan reads \(p.leaf)\(p.task.map { " of task \($0)" } ?? "") but no argument supplies it"
      )
    }
    self.loads = loads
    var stores: [[Copy]] = []
    var output = 0
    for group in results {
      var copies: [Copy] = []
      var offset = 0
      for _ in group {
        let o = plan.outputs[output]
        copies.append(Copy(vector: offset, arena: o.offset, count: o.shape.count))
        offset += o.shape.count
        output += 1
      }
      stores.append(copies)
    }
    self.stores = stores
    resultSizes = stores.map { $0.reduce(0) { $0 + $1.count } }
  }

  @usableFromInline func load(_ argument: Int, _ values: UnsafePointer<Double>) {
    for c in loads[argument] {
      (plan.address(c.arena)).update(from: values + c.vector, count: c.count)
    }
  }

  @usableFromInline func load(_ argument: Int, _ values: [Double]) {
    precondition(values.count == argumentSizes[argument])
    if values.isEmpty { return }
    values.withUnsafeBufferPointer { load(argument, $0.baseAddress!) }
  }

  @usableFromInline func run() { plan.run() }

  /// Reruns instruction by instruction to find where a non-finite value starts.
  public func locateFault() -> NumericFault? { plan.runChecked() }

  @usableFromInline func store(_ result: Int, into values: UnsafeMutablePointer<Double>) {
    for c in stores[result] {
      (values + c.vector).update(from: plan.address(c.arena), count: c.count)
    }
  }

  @usableFromInline func store(_ result: Int, into values: inout [Double]) {
    precondition(values.count == resultSizes[result])
    values.withUnsafeMutableBufferPointer { store(result, into: $0.baseAddress!) }
  }

  /// Adds the result to `values` (accumulating contributions).
  @usableFromInline func accumulate(_ result: Int, into values: inout [Double], scale: Double = 1) {
    precondition(values.count == resultSizes[result])
    values.withUnsafeMutableBufferPointer { v in
      for c in stores[result] {
        let source = plan.address(c.arena)
        for k in 0..<c.count { v[c.vector + k] += scale * source[k] }
      }
    }
  }

  @usableFromInline func result(_ k: Int) -> [Double] {
    var out = [Double](repeating: 0, count: resultSizes[k])
    store(k, into: &out)
    return out
  }

  /// The first entry of a result (for scalar results such as losses).
  @usableFromInline func scalar(_ k: Int) -> Double { plan.address(stores[k][0].arena)[0] }
}
