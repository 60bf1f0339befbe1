import BilevelCore
import BilevelFrontEnd
import Foundation

/// A program compiled for the solvers: flat layouts of θ (per task), of the
/// unrolled state and of φ, and the compiled functions every solver and
/// method calls, each built on first use.
///
/// Vectors: φ concatenates the outer variables in declaration order; θ of a
/// task concatenates its inner variables; the step state is θ followed by
/// the optimizer state (velocity, or both Adam moments) in the same order.
public final class BilevelProblem: @unchecked Sendable {
  public let source: Program
  let graphs: SolverGraphs
  public var program: Program { graphs.program }
  /// Tasks (1 without `tasks`); inner problems are independent per task.
  public let tasks: Int
  /// Inner entries per task (d), outer entries (m), step state per task.
  public let innerSize: Int
  public let outerSize: Int
  public let stateSize: Int
  public var stepRule: StepRule? { graphs.stepRule }
  public var hasFixpoint: Bool { source.innerFixpoint != nil }
  /// Threads the methods run tasks on (TaskParallel); 1: plain sequential
  /// loops. Results are bit-identical for every value. Set it between
  /// calls, not during one.
  public var threads = KernelThreadPool.onlineCores

  public init(_ program: Program) {
    source = program
    graphs = SolverGraphs(program)
    tasks = program.tasks?.count ?? 1
    innerSize = program.size(.inner)
    outerSize = program.size(.outer)
    stateSize = innerSize * (graphs.stepRule?.copies ?? 1)
    functions = (0..<tasks).map { _ in TaskFunctions() }
  }

  // MARK: Layouts

  func taskOf(_ variable: Int, _ t: Int) -> Int? { program.variables[variable].perTask ? t : nil }
  /// The plan's task for per-task roots (nil in a program without tasks).
  func planTask(_ t: Int) -> Int? { source.tasks == nil ? nil : t }

  func leaves(_ nodes: [NodeID], task t: Int) -> [Leaf] {
    nodes.map { id in
      let op = program.graph[id].op
      let perTask = program.isPerTaskLeaf(op)
      return Leaf(op, task: perTask && source.tasks != nil ? t : nil, count: program.graph.shape(id).count)
    }
  }

  func theta(_ t: Int) -> [Leaf] { leaves(graphs.theta, task: t) }
  var phi: [Leaf] { leaves(graphs.phi, task: 0) }
  func state(_ t: Int) -> [Leaf] { leaves(graphs.theta + graphs.optimizerState, task: t) }
  var allTheta: [Leaf] { (0..<tasks).flatMap(theta) }

  /// Names and shapes of the outer variables, in φ order.
  public var outerVariables: [Variable] { graphs.outerVariables.map { program.variables[$0] } }
  public var innerVariables: [Variable] { graphs.innerVariables.map { program.variables[$0] } }

  // MARK: Compiled functions

  final class TaskFunctions: @unchecked Sendable {
    let lock = NSLock()
    var innerGradient: CompiledFunction?
    var innerGradientOuter: CompiledFunction?
    var hessianVector: CompiledFunction?
    var mixed: CompiledFunction?
    var step: CompiledFunction?
    var tapedPullback: CompiledFunction?
    var stepTangent: CompiledFunction?
    var fixpoint: CompiledFunction?
    var fixpointPullback: CompiledFunction?
    var initial: CompiledFunction?
    var initialPullback: CompiledFunction?
    var initialTangent: CompiledFunction?
    var learningRate: CompiledFunction?
    var outerGradientInner: CompiledFunction?
    // Only in `outerFunctions`:
    var outerLoss: CompiledFunction?
    var outerGradient: CompiledFunction?
  }
  let functions: [TaskFunctions]
  /// The outer loss and its gradient (global: all tasks in one plan).
  let outerFunctions = TaskFunctions()

  /// The cached function, made on first use under the owner's lock: the
  /// methods run tasks on several threads (TaskParallel), and two threads may
  /// ask for the same shared function (task 0's, the outer ones) at once.
  /// Different tasks' functions are built concurrently.
  func build(_ owner: TaskFunctions, _ slot: ReferenceWritableKeyPath<TaskFunctions, CompiledFunction?>,
             _ make: () -> CompiledFunction) -> CompiledFunction {
    owner.lock.lock()
    defer { owner.lock.unlock() }
    if let f = owner[keyPath: slot] { return f }
    let f = make()
    owner[keyPath: slot] = f
    return f
  }

  /// [θ, φ] → [∇θ L_in, L_in].
  public func innerGradient(_ t: Int) -> CompiledFunction {
    build(functions[t], \.innerGradient) {
      CompiledFunction(program, arguments: [theta(t), phi], results: [graphs.innerGradient, graphs.innerLoss], task: planTask(t))
    }
  }

  /// [θ, φ] → [∇φ L_in (this task's part), L_in].
  public func innerGradientOuter(_ t: Int) -> CompiledFunction {
    build(functions[t], \.innerGradientOuter) {
      CompiledFunction(program, arguments: [theta(t), phi], results: [graphs.innerGradientOuter, graphs.innerLoss], task: planTask(t))
    }
  }

  /// [θ, φ, v] → [H v].
  public func hessianVector(_ t: Int) -> CompiledFunction {
    build(functions[t], \.hessianVector) {
      CompiledFunction(program, arguments: [theta(t), phi, leaves(graphs.direction, task: t)], results: [graphs.hessianVector], task: planTask(t))
    }
  }

  /// [θ, φ, v] → [(∂²L_in/∂φ∂θ) v].
  public func mixed(_ t: Int) -> CompiledFunction {
    build(functions[t], \.mixed) {
      CompiledFunction(program, arguments: [theta(t), phi, leaves(graphs.direction, task: t)], results: [graphs.mixed], task: planTask(t))
    }
  }

  var biasLeaves: [Leaf] { leaves(graphs.biasCorrection, task: 0) }

  /// [s, φ, bias] → [Φ(s), L_in(θ), residuals (what the taped pullback reads)].
  public func step(_ t: Int) -> CompiledFunction {
    build(functions[t], \.step) {
      CompiledFunction(program, arguments: [state(t), phi, biasLeaves], results: [graphs.step, graphs.innerLoss, graphs.residuals],
                       task: planTask(t))
    }
  }

  /// Entries of the residuals one step keeps for its taped pullback.
  public var residualSize: Int { graphs.residuals.reduce(0) { $0 + program.graph.shape($1).count } }

  /// [s, φ, bias, u, residuals] → [(∂Φ/∂s)ᵀ u, (∂Φ/∂φ)ᵀ u], reading the step's
  /// matrix products from the tape.
  public func tapedPullback(_ t: Int) -> CompiledFunction {
    build(functions[t], \.tapedPullback) {
      CompiledFunction(program, arguments: [state(t), phi, biasLeaves, leaves(graphs.cotangent, task: t), leaves(graphs.residualInputs, task: t)],
                       results: [graphs.tapedPullback, graphs.tapedOuterPullback], task: planTask(t))
    }
  }

  /// [s, φ, bias, ṡ, φ̇] → [(∂Φ/∂s) ṡ + (∂Φ/∂φ) φ̇].
  public func stepTangent(_ t: Int) -> CompiledFunction {
    build(functions[t], \.stepTangent) {
      CompiledFunction(program, arguments: [state(t), phi, biasLeaves, leaves(graphs.stateTangent, task: t), leaves(graphs.outerTangent, task: 0)],
                       results: [graphs.stepTangent], task: planTask(t))
    }
  }

  /// [z, φ] → [E(z, φ)].
  public func fixpoint(_ t: Int) -> CompiledFunction {
    build(functions[t], \.fixpoint) {
      CompiledFunction(program, arguments: [theta(t), phi], results: [graphs.fixpointMap], task: planTask(t))
    }
  }

  /// [z, φ, u] → [(∂E/∂z)ᵀ u, (∂E/∂φ)ᵀ u].
  public func fixpointPullback(_ t: Int) -> CompiledFunction {
    build(functions[t], \.fixpointPullback) {
      CompiledFunction(program, arguments: [theta(t), phi, leaves([graphs.cotangent[0]], task: t)],
                       results: [graphs.fixpointPullback, graphs.fixpointOuterPullback], task: planTask(t))
    }
  }

  /// [φ] → [θ₀(φ)].
  public func initial(_ t: Int) -> CompiledFunction {
    build(functions[t], \.initial) { CompiledFunction(program, arguments: [phi], results: [graphs.initial], task: planTask(t)) }
  }

  /// [φ, u] → [(∂θ₀/∂φ)ᵀ u].
  public func initialPullback(_ t: Int) -> CompiledFunction {
    build(functions[t], \.initialPullback) {
      CompiledFunction(program, arguments: [phi, leaves(Array(graphs.cotangent.prefix(graphs.theta.count)), task: t)],
                       results: [graphs.initialOuterPullback], task: planTask(t))
    }
  }

  /// [φ, φ̇] → [(∂θ₀/∂φ) φ̇].
  public func initialTangent(_ t: Int) -> CompiledFunction {
    build(functions[t], \.initialTangent) {
      CompiledFunction(program, arguments: [phi, leaves(graphs.outerTangent, task: 0)], results: [graphs.initialTangent], task: planTask(t))
    }
  }

  /// [φ] → [lr, ∇φ lr] of gradient descent.
  public var learningRate: CompiledFunction {
    build(functions[0], \.learningRate) {
      CompiledFunction(program, arguments: [phi], results: [graphs.learningRate, graphs.learningRateGradient], task: nil)
    }
  }

  /// [θ of every task, φ] → [L_out, ∂L_out/∂φ].
  public var outerGradient: CompiledFunction {
    build(outerFunctions, \.outerGradient) {
      CompiledFunction(program, arguments: [allTheta, phi], results: [graphs.outerLoss, graphs.outerGradientOuter], task: nil)
    }
  }

  /// [θ of every task, φ] → [L_out].
  public var outerLoss: CompiledFunction {
    build(outerFunctions, \.outerLoss) {
      CompiledFunction(program, arguments: [allTheta, phi], results: [graphs.outerLoss], task: nil)
    }
  }

  /// [θ of every task, φ] → the program's reports, in order. Built anew
  /// per call (reports are evaluated once an outer step).
  public func reportFunction() -> CompiledFunction? {
    guard !source.reports.isEmpty else { return nil }
    return CompiledFunction(program, arguments: [allTheta, phi], results: source.reports.map { [$0.node] }, task: nil)
  }

  /// [θ of every task, φ] → [∂L_out/∂θ of task t].
  public func outerGradientInner(_ t: Int) -> CompiledFunction {
    build(functions[t], \.outerGradientInner) {
      CompiledFunction(program, arguments: [allTheta, phi], results: [graphs.outerGradientInner], task: planTask(t))
    }
  }

  // MARK: Values

  /// φ at the program's initial point.
  public func initialOuter() -> [Double] {
    let e = ProgramEvaluation(initialPointOf: source)
    return graphs.outerVariables.flatMap { e.variableValues[$0][0].scalars }
  }

  /// Box bounds of φ, entry by entry (±∞ where a variable has none).
  public func outerBounds() -> (lower: [Double], upper: [Double])? {
    guard outerVariables.contains(where: { $0.bounds != nil }) else { return nil }
    let e = ProgramEvaluation(initialPointOf: source)
    var lower: [Double] = []
    var upper: [Double] = []
    for v in outerVariables {
      let n = v.shape.count
      guard let b = v.bounds else {
        lower += Array(repeating: -.infinity, count: n)
        upper += Array(repeating: .infinity, count: n)
        continue
      }
      for (node, into) in [(b.lower, 0), (b.upper, 1)] {
        let value = e.evaluate(node).scalars
        let expanded = value.count == n ? value : Array(repeating: value[0], count: n)
        if into == 0 { lower += expanded } else { upper += expanded }
      }
    }
    return (lower, upper)
  }

  /// Where the outer variables' blocks start in φ, with their variables.
  public var outerBlocks: [(variable: Variable, offset: Int)] {
    var offset = 0
    return outerVariables.map { v in
      defer { offset += v.shape.count }
      return (v, offset)
    }
  }
}

extension ProblemSizes {
  /// The sizes with the taped step's residuals, which only the derived solver graphs know.
  public init(_ problem: BilevelProblem) {
    self.init(problem.source)
    if problem.stepRule != nil { residuals = problem.residualSize }
  }
}
