import BilevelCore
import BilevelFrontEnd
import Foundation
import Synchronization

/// A program compiled for the solvers: flat layouts of θ (per task), of the
/// unrolled state and of φ, and the compiled functions every solver and
/// method calls, each built on first use.
///
/// Vectors: φ concatenates the outer variables in declaration order; θ of a
/// task concatenates its inner variables; the step state is θ followed by
/// the optimizer state (velocity, or both Adam moments) in the same order.
public final class BilevelProblem: Sendable {
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
  public var threads: Int {
    get { threadCount.load(ordering: .relaxed) }
    set { threadCount.store(newValue, ordering: .relaxed) }
  }
  let threadCount = Atomic<Int>(KernelThreadPool.onlineCores)
  /// The warm start's carried inner state (CarriedState.swift).
  let carriedStore = Mutex<CarriedState?>(nil)

  /// The outer step whose minibatches the plans read (set by `hypergradient`;
  /// 0 for `check` and `grad`, whose maps hold the stream fixed).
  public var outerStep: Int {
    get { outerStepNumber.load(ordering: .relaxed) }
    set { outerStepNumber.store(newValue, ordering: .relaxed) }
  }
  let outerStepNumber = Atomic<Int>(0)
  /// The inner step whose batch the plans other than the step's read (Program.heldInnerStep).
  public let heldInnerStep: Int

  /// What the plans compute from data alone (and the data they read),
  /// computed once and shared by every compiled function.
  public let constants: ConstantPool

  public init(_ program: Program) {
    source = program
    let graphs = SolverGraphs(program)
    self.graphs = graphs
    constants = ConstantPool(graphs.program)
    let taskCount = program.tasks?.count ?? 1
    allTheta = LeafLayout(
      (0..<taskCount).flatMap {
        Self.leafList(
          graphs.theta, task: $0, program: graphs.program, hasTasks: program.tasks != nil)
      })
    tasks = taskCount
    innerSize = program.size(.inner)
    outerSize = program.size(.outer)
    stateSize =
      graphs.stepRule == nil
      ? innerSize
      : program.size(.inner)
        + graphs.optimizerState.reduce(0) { $0 + graphs.program.graph.shape($1).count }
    functions = (0..<tasks).map { _ in LockedFunctions() }
    heldInnerStep = program.heldInnerStep
  }

  // MARK: Layouts

  func taskOf(_ variable: Int, _ t: Int) -> Int? { program.variables[variable].perTask ? t : nil }
  /// The plan's task for per-task roots (nil in a program without tasks).
  func planTask(_ t: Int) -> Int? { source.tasks == nil ? nil : t }

  func leaves(_ nodes: [NodeID], task t: Int) -> LeafLayout {
    LeafLayout(Self.leafList(nodes, task: t, program: program, hasTasks: source.tasks != nil))
  }

  static func leafList(_ nodes: [NodeID], task t: Int, program: Program, hasTasks: Bool) -> [Leaf] {
    let isPerTask = program.isPerTaskLeaf
    return nodes.map { id in
      let op = program.graph[id].op
      return Leaf(
        op, task: isPerTask(op) && hasTasks ? t : nil, count: program.graph.shape(id).count)
    }
  }

  func theta(_ t: Int) -> LeafLayout { leaves(graphs.theta, task: t) }
  var phi: LeafLayout { leaves(graphs.phi, task: 0) }
  func state(_ t: Int) -> LeafLayout { leaves(graphs.theta + graphs.optimizerState, task: t) }
  /// Every task's θ, one after another: built once, shared by every task's functions.
  let allTheta: LeafLayout

  /// Names and shapes of the outer variables, in φ order.
  public var outerVariables: [Variable] { graphs.outerVariables.map { program.variables[$0] } }
  public var innerVariables: [Variable] { graphs.innerVariables.map { program.variables[$0] } }

  // MARK: Compiled functions

  /// One task's compiled functions, each made on first use.
  struct TaskFunctions {
    var innerGradient: Compiled<InnerGradient>?
    var innerGradientOuter: Compiled<InnerGradientOuter>?
    var hessianVector: Compiled<HessianVectorProduct>?
    var mixed: Compiled<MixedProduct>?
    var gradientTangent: Compiled<GradientTangent>?
    var step: Compiled<InnerStep>?
    var tapedPullback: Compiled<TapedStepPullback>?
    var stepTangent: Compiled<StepTangent>?
    var fixpoint: Compiled<FixpointMap>?
    var fixpointPullback: Compiled<FixpointPullback>?
    var initial: Compiled<InitialPoint>?
    var initialPullback: Compiled<InitialPointPullback>?
    var initialTangent: Compiled<InitialPointTangent>?
    var learningRate: Compiled<LearningRate>?
    var stepSettingValues: Compiled<StepSettingValues>?
    var outerGradientInner: Compiled<OuterGradientInner>?
    var proxyMap: Compiled<ProxyMap>?
    var proxyTraining: Compiled<ProxyTraining>?
    var proxyLinearTraining: Compiled<ProxyTraining>?
    var proxyOuterGradient: Compiled<ProxyOuterGradient>?
    // Only in `outerFunctions`:
    var outerLoss: Compiled<OuterLoss>?
    var outerGradient: Compiled<OuterGradient>?
  }
  /// A TaskFunctions behind its lock (a class: a Mutex cannot sit in an array).
  final class LockedFunctions: Sendable {
    let cache = Mutex(TaskFunctions())
  }
  let functions: [LockedFunctions]
  /// The outer loss and its gradient (global: all tasks in one plan).
  let outerFunctions = LockedFunctions()

  /// The cached function, made on first use under the owner's lock: the
  /// methods run tasks on several threads (TaskParallel), and two threads may
  /// ask for the same shared function (task 0's, the outer ones) at once.
  /// Different tasks' functions are built concurrently.
  func build<S>(
    _ owner: LockedFunctions, _ slot: WritableKeyPath<TaskFunctions, Compiled<S>?>,
    _ make: () -> Compiled<S>
  ) -> Compiled<S> {
    owner.cache.withLock { cache in
      let f = cache[keyPath: slot] ?? make()
      cache[keyPath: slot] = f
      // Tasks share plan code: this thread's instance, bound to the task.
      f.function.attach()
      // The held batch of this outer step (a step plan's own batch is loaded per step).
      f.function.loadBatches(outer: outerStep, inner: heldInnerStep)
      return f
    }
  }

  /// Each function's arguments and results are named by its signature
  /// (FunctionSignatures.swift, which also says what each computes).
  public func innerGradient(_ t: Int) -> Compiled<InnerGradient> {
    build(functions[t], \.innerGradient) {
      Compiled(
        program, constants: constants, task: planTask(t),
        arguments: {
          switch $0 {
          case .theta: theta(t);
          case .phi: phi
          }
        },
        results: {
          switch $0 {
          case .gradient: graphs.innerGradient;
          case .loss: graphs.innerLoss
          }
        })
    }
  }

  public func innerGradientOuter(_ t: Int) -> Compiled<InnerGradientOuter> {
    build(functions[t], \.innerGradientOuter) {
      Compiled(
        program, constants: constants, task: planTask(t),
        arguments: {
          switch $0 {
          case .theta: theta(t);
          case .phi: phi
          }
        },
        results: {
          switch $0 {
          case .gradient: graphs.innerGradientOuter;
          case .loss: graphs.innerLoss
          }
        })
    }
  }

  public func hessianVector(_ t: Int) -> Compiled<HessianVectorProduct> {
    build(functions[t], \.hessianVector) {
      Compiled(
        program, constants: constants, task: planTask(t),
        arguments: {
          switch $0 {
          case .theta: theta(t)
          case .phi: phi
          case .direction: leaves(graphs.direction, task: t)
          }
        },
        results: {
          switch $0 {
          case .product: graphs.hessianVector
          }
        })
    }
  }

  public func mixed(_ t: Int) -> Compiled<MixedProduct> {
    build(functions[t], \.mixed) {
      Compiled(
        program, constants: constants, task: planTask(t),
        arguments: {
          switch $0 {
          case .theta: theta(t)
          case .phi: phi
          case .direction: leaves(graphs.direction, task: t)
          }
        },
        results: {
          switch $0 {
          case .product: graphs.mixed
          }
        })
    }
  }

  var biasLeaves: LeafLayout { leaves(graphs.biasCorrection, task: 0) }

  public func step(_ t: Int) -> Compiled<InnerStep> {
    build(functions[t], \.step) {
      Compiled(
        program, constants: constants, task: planTask(t),
        arguments: {
          switch $0 {
          case .state: state(t)
          case .phi: phi
          case .biasCorrection: biasLeaves
          }
        },
        results: {
          switch $0 {
          case .next: graphs.step
          case .loss: graphs.innerLoss
          case .residuals: graphs.residuals
          case .squaredGradientNorm: graphs.stepGradientNorm
          }
        })
    }
  }

  /// Entries of the residuals one step keeps for its taped pullback.
  public var residualSize: Int { graphs.residuals.reduce(0) { $0 + program.graph.shape($1).count } }

  public func tapedPullback(_ t: Int) -> Compiled<TapedStepPullback> {
    build(functions[t], \.tapedPullback) {
      Compiled(
        program, constants: constants, task: planTask(t),
        arguments: {
          switch $0 {
          case .state: state(t)
          case .phi: phi
          case .biasCorrection: biasLeaves
          case .cotangent: leaves(graphs.cotangent, task: t)
          case .residuals: leaves(graphs.residualInputs, task: t)
          }
        },
        results: {
          switch $0 {
          case .stateCotangent: graphs.tapedPullback
          case .outerCotangent: graphs.tapedOuterPullback
          }
        })
    }
  }

  public func stepTangent(_ t: Int) -> Compiled<StepTangent> {
    build(functions[t], \.stepTangent) {
      Compiled(
        program, constants: constants, task: planTask(t),
        arguments: {
          switch $0 {
          case .state: state(t)
          case .phi: phi
          case .biasCorrection: biasLeaves
          case .stateTangent: leaves(graphs.stateTangent, task: t)
          case .outerTangent: leaves(graphs.outerTangent, task: 0)
          }
        },
        results: {
          switch $0 {
          case .tangent: graphs.stepTangent
          }
        })
    }
  }

  public func fixpoint(_ t: Int) -> Compiled<FixpointMap> {
    build(functions[t], \.fixpoint) {
      Compiled(
        program, constants: constants, task: planTask(t),
        arguments: {
          switch $0 {
          case .point: theta(t);
          case .phi: phi
          }
        },
        results: {
          switch $0 {
          case .image: graphs.fixpointMap
          }
        })
    }
  }

  public func fixpointPullback(_ t: Int) -> Compiled<FixpointPullback> {
    build(functions[t], \.fixpointPullback) {
      Compiled(
        program, constants: constants, task: planTask(t),
        arguments: {
          switch $0 {
          case .point: theta(t)
          case .phi: phi
          case .cotangent: leaves([graphs.cotangent[0]], task: t)
          }
        },
        results: {
          switch $0 {
          case .pointCotangent: graphs.fixpointPullback
          case .outerCotangent: graphs.fixpointOuterPullback
          }
        })
    }
  }

  public func initial(_ t: Int) -> Compiled<InitialPoint> {
    build(functions[t], \.initial) {
      Compiled(
        program, constants: constants, task: planTask(t),
        arguments: {
          switch $0 {
          case .phi: phi
          }
        },
        results: {
          switch $0 {
          case .theta: graphs.initial
          case .state: graphs.ruleStateInitial
          }
        })
    }
  }

  public func initialPullback(_ t: Int) -> Compiled<InitialPointPullback> {
    build(functions[t], \.initialPullback) {
      Compiled(
        program, constants: constants, task: planTask(t),
        arguments: {
          switch $0 {
          case .phi: phi
          case .cotangent: leaves(Array(graphs.cotangent.prefix(graphs.theta.count)), task: t)
          }
        },
        results: {
          switch $0 {
          case .outerCotangent: graphs.initialOuterPullback
          }
        })
    }
  }

  public func initialTangent(_ t: Int) -> Compiled<InitialPointTangent> {
    build(functions[t], \.initialTangent) {
      Compiled(
        program, constants: constants, task: planTask(t),
        arguments: {
          switch $0 {
          case .phi: phi;
          case .outerTangent: leaves(graphs.outerTangent, task: 0)
          }
        },
        results: {
          switch $0 {
          case .tangent: graphs.initialTangent
          }
        })
    }
  }

  public var learningRate: Compiled<LearningRate> {
    build(functions[0], \.learningRate) {
      Compiled(
        program, constants: constants, task: nil,
        arguments: {
          switch $0 {
          case .phi: phi
          }
        },
        results: {
          switch $0 {
          case .rate: graphs.learningRate;
          case .gradient: graphs.learningRateGradient
          }
        })
    }
  }

  public var outerGradient: Compiled<OuterGradient> {
    build(outerFunctions, \.outerGradient) {
      Compiled(
        program, constants: constants, task: nil,
        arguments: {
          switch $0 {
          case .allTheta: allTheta;
          case .phi: phi
          }
        },
        results: {
          switch $0 {
          case .loss: graphs.outerLoss;
          case .gradient: graphs.outerGradientOuter
          }
        })
    }
  }

  public var outerLoss: Compiled<OuterLoss> {
    build(outerFunctions, \.outerLoss) {
      Compiled(
        program, constants: constants, task: nil,
        arguments: {
          switch $0 {
          case .allTheta: allTheta;
          case .phi: phi
          }
        },
        results: {
          switch $0 {
          case .loss: graphs.outerLoss
          }
        })
    }
  }

  /// [θ of every task, φ] → the program's reports, in order. Built anew
  /// per call (reports are evaluated once an outer step).
  public func reportFunction() -> Compiled<Reports>? {
    guard !source.reports.isEmpty else { return nil }
    let f = Compiled<Reports>(
      program, constants: constants, task: nil,
      arguments: {
        switch $0 {
        case .allTheta: allTheta;
        case .phi: phi
        }
      },
      results: {
        switch $0 {
        case .values: source.reports.map(\.node)
        }
      })
    f.function.loadBatches(outer: outerStep, inner: heldInnerStep)
    return f
  }

  /// ∂L_out/∂θ of task t alone.
  public func outerGradientInner(_ t: Int) -> Compiled<OuterGradientInner> {
    build(functions[t], \.outerGradientInner) {
      Compiled(
        program, constants: constants, task: planTask(t),
        arguments: {
          switch $0 {
          case .allTheta: allTheta;
          case .phi: phi
          }
        },
        results: {
          switch $0 {
          case .gradient: graphs.outerGradientInner
          }
        })
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
