import BilevelCore
import BilevelFrontEnd

/// One hypergradient method's rules, kept together as an op keeps its shape
/// rule, kernel and derivative rules (ARCHITECTURE.md): when it applies, what
/// it costs, the map `check` differentiates, how `check` judges it, and the
/// computation. The compile-time check, `auto`, `explain`, the run header,
/// `check` and the benchmark read these records and nothing else.
struct MethodRecord: Sendable {
  /// Why the method cannot run on this program (nil: it can), stated once:
  /// the compile-time error and explain's "not applicable" say the same.
  var inapplicable: @Sendable (ProblemSizes) -> String?
  /// What the method differentiates of the inner problem.
  let view: MethodView
  /// Explain's row: the label (with the counts that set the cost), time and memory.
  var cost: @Sendable (ProblemSizes) -> MethodCost
  /// The map whose central differences the method's gradient must match, for an unroll of T steps.
  let checkedMap: @Sendable (_ steps: Int?) -> CheckedMap
  /// How `check` judges the method's row.
  let checkFamily: CheckFamily
  let compute: @Sendable (BilevelProblem, [Double]) throws(SolverFault) -> HypergradientResult
  /// Compile-time diagnostics that locate the trouble better than the
  /// statement does (closed_form points at the non-quadratic term).
  var diagnose: (@Sendable (Program, SourceRange) -> [Diagnostic])? = nil
  /// The record the outer solver uses at outer step k (0-based), for a
  /// method that changes between steps (evograd's fresh draws); nil: this one.
  /// Step 0's is the record itself, so `check` judges what step 0 runs.
  var atOuterStep: (@Sendable (Int) -> MethodRecord)? = nil
  /// A method with state between outer steps (a proxy's trained α): outer
  /// step k (> the first) from the previous step's result; nil: `compute`.
  var continuing:
    (
      @Sendable (BilevelProblem, [Double], _ outerStep: Int, _ previous: HypergradientResult)
        throws(SolverFault) -> HypergradientResult
    )? = nil
}

/// Which paths from φ to the inner solution a method sees.
enum MethodView: Sendable {
  /// Every path: the unrolled iterations, their settings and start.
  case iterations
  /// The inner solution alone (implicit, closed form, evograd): φ that only
  /// sets the solver or its start is invisible.
  case solution
  /// The inner solution held, plus θ₀(φ) (first order).
  case solutionAndStart
}

extension MethodView {
  /// What the method differentiates when each outer step's inner solve
  /// continues the previous one (`start: warm`): the carried start is a constant.
  var underWarmStart: String {
    switch self {
    case .iterations:
      return "this outer step's inner steps, from the carried state held constant"
    case .solution:
      return
        "the inner solution at the current point (the state this outer step's steps reach), as if it were converged"
    case .solutionAndStart:
      return
        "the state this outer step's steps reach, held; the carried start is constant, so only ∂L_out/∂φ"
    }
  }
}

/// How `check` judges a method (METHODS.md, "Checking").
enum CheckFamily: Sendable, Equatable {
  /// unroll(reverse): the unrolled family's reference.
  case unrolledReference
  /// Must match unroll(reverse) to rounding.
  case unrolled
  /// Exact for its own map.
  case exact
  /// implicit(exact): the implicit family's reference.
  case implicitReference
  /// Exact to its convergent settings: within 1e-6 of implicit(exact).
  case implicit
  /// The program's own cg or neumann settings: judged by its residual.
  case approximateImplicit
  /// finite_difference: within 1e-3 of central differences of truncated(1)'s map.
  case finiteDifference
}

/// What one method costs on a problem, in inner steps (c), derivative
/// products and bytes (survey §4.5, Table 6).
struct MethodCost: Sendable {
  let label: String
  let time: String
  let memoryBytes: Int
  let memory: String
}

extension HypergradientMethod {
  /// The method's record: every case has one, so a new method does not build until it is written.
  var record: MethodRecord {
    var r = baseRecord
    switch self {
    case .unrollReverse, .unrollForward:
      // Summed over the trajectory, every step's θ_t is in the sum: a tolerance may not stop it.
      let (base, cost) = (r.inapplicable, r.cost)
      r.inapplicable = { s in
        s.trajectory && s.stopsEarly
          ? "the outer loss is summed over all T inner steps, but the inner solver stops at tol"
          : base(s)
      }
      // The per-step ∂L_out/∂θ_t are kept for the sweep.
      r.cost = { s in
        let c = cost(s)
        guard s.trajectory else { return c }
        let T = s.steps ?? 0
        let extra = saturatingProduct(T, s.inner, Bytes.double, s.tasks)
        return MethodCost(
          label: c.label, time: c.time, memoryBytes: saturatingSum(c.memoryBytes, extra),
          memory:
            "\(c.memory) + \(T) per-step ∂L_out/∂θ_t × \(formatBytes(s.inner * Bytes.double))\(s.perTask)"
        )
      }
    default:
      let (base, name) = (r.inapplicable, kind.rawValue)
      r.inapplicable = { s in s.refusesTrajectory(name) ?? base(s) }
    }
    return r
  }

  private var baseRecord: MethodRecord {
    switch self {
    case .unrollReverse(let k): return UnrolledReverse.record(checkpoints: k)
    case .unrollForward: return UnrolledForward.record
    case .truncated(let k): return UnrolledReverse.truncatedRecord(steps: k)
    case .firstOrder: return FirstOrder.record
    case .finiteDifference(let eps): return FiniteDifferenceStep.record(eps: eps)
    case .evograd(let k, let sigma, let tau, let seed, let fresh, let draws):
      return EvolutionaryProxy.record(
        samples: k, sigma: sigma, tau: tau, seed: seed, fresh: fresh, draws: draws)
    case .implicitConjugateGradient, .implicitNeumann, .implicitExact:
      return ImplicitDifferentiation.record(self)
    case .closedForm: return ClosedForm.record
    case .adjoint: return FlowAdjoint.record
    case .proxy(let s): return HypernetworkProxy.record(s)
    }
  }

  /// As written in a program, with every setting.
  public var description: String {
    switch self {
    case .unrollReverse(let k):
      return k.map { "unroll(reverse, checkpoints: \($0))" } ?? "unroll(reverse)"
    case .unrollForward: return "unroll(forward)"
    case .truncated(let k): return "truncated(\(k))"
    case .firstOrder, .closedForm, .adjoint: return kind.rawValue
    case .finiteDifference(let e): return "finite_difference(eps: \(formatValue(e)))"
    case .evograd(let k, let s, let t, let seed, let fresh, let draws):
      let which = draws.map { ", draws: \($0)" } ?? (fresh ? ", draws: fresh" : "")
      return
        "evograd(\(k), sigma: \(formatValue(s)), tau: \(formatValue(t)), seed: \(seed)\(which))"
    case .implicitConjugateGradient(let k, let tol):
      return "implicit(cg, iters: \(k), tol: \(formatValue(tol)))"
    case .implicitNeumann(let k, let a):
      return "implicit(neumann, iters: \(k), alpha: \(formatValue(a)))"
    case .implicitExact: return "implicit(exact)"
    case .proxy(let s): return HypernetworkProxy.description(s)
    }
  }

  /// The method's name with its mode or linear solver, as errors name it: `implicit(cg)`.
  public var title: String {
    switch self {
    case .unrollReverse: return "unroll(reverse)"
    case .unrollForward: return "unroll(forward)"
    case .implicitConjugateGradient: return "implicit(cg)"
    case .implicitNeumann: return "implicit(neumann)"
    case .implicitExact: return "implicit(exact)"
    case .proxy(let s): return "proxy(\(s.mode.rawValue))"
    default: return kind.rawValue
    }
  }

  /// What it differentiates under a warm start (explain's line).
  public var underWarmStart: String { record.view.underWarmStart }

  /// Whether it solves the inner problem and differentiates the solution
  /// (rather than the unrolled steps).
  public var isImplicit: Bool { record.checkedMap(nil) == .tight }

  /// The same method up to its counts (explain's rows are costed with the program's).
  public func sameVariant(_ other: HypergradientMethod) -> Bool {
    switch (self, other) {
    case (.unrollReverse(let a), .unrollReverse(let b)): return (a == nil) == (b == nil)
    default: return title == other.title
    }
  }
}

/// Every method once, in explain's order, costed with the counts the
/// program's method names where it is of the same kind (its checkpoints, K,
/// iterations or samples) and the defaults elsewhere.
enum MethodTable {
  static func rows(_ s: ProblemSizes, costing method: HypergradientMethod?) -> [HypergradientMethod]
  {
    let T = s.steps ?? 0
    var checkpoints = max(1, Int(Double(max(T, 1)).squareRoot().rounded(.up)))
    var truncation = min(T, 10)
    var iterations = 20
    var samples = 4
    var proxy = ProxySettings(mode: .global)
    switch method {
    case .unrollReverse(let k?)?: checkpoints = k
    case .truncated(let k)?: truncation = k
    case .implicitConjugateGradient(let k, _)?, .implicitNeumann(let k, _)?: iterations = k
    case .evograd(let k, _, _, _, _, _)?: samples = k
    case .proxy(let s)?: proxy = s
    default: break
    }
    // A switch over the kinds, so a new method kind does not build until it has rows.
    let rows = MethodKind.allCases.flatMap { kind -> [HypergradientMethod] in
      switch kind {
      case .unroll:
        return [
          .unrollReverse(checkpoints: nil), .unrollReverse(checkpoints: checkpoints),
          .unrollForward,
        ]
      case .truncated: return [.truncated(steps: truncation)]
      case .firstOrder: return [.firstOrder]
      case .finiteDifference: return [.finiteDifference(eps: 0.01)]
      case .evograd:
        return [.evograd(samples: samples, sigma: 0.001, tau: 0.05, seed: 1, fresh: false)]
      case .implicit:
        return [
          .implicitConjugateGradient(iterations: iterations, tolerance: 1e-10),
          .implicitNeumann(iterations: iterations, alpha: 1), .implicitExact,
        ]
      case .closedForm: return [.closedForm]
      case .auto: return []
      case .adjoint: return [.adjoint]
      case .proxy: return [.proxy(proxy)]
      }
    }
    // The program's own settings where it names a row's method.
    return rows.map { row in method.map { row.sameVariant($0) ? $0 : row } ?? row }
  }
}

/// A method's row in explain's table: its cost, or why it does not apply.
public struct MethodEstimate: Sendable {
  public let method: HypergradientMethod
  public let label: String
  public let time: String
  public let memoryBytes: Int
  public let memory: String
  /// Nil when the method applies; otherwise why not.
  public let unavailable: String?

  init(_ method: HypergradientMethod, _ s: ProblemSizes) {
    let record = method.record
    let cost = record.cost(s)
    self.method = method
    label = cost.label
    time = cost.time
    memoryBytes = cost.memoryBytes
    memory = cost.memory
    unavailable = record.inapplicable(s)
  }
}
