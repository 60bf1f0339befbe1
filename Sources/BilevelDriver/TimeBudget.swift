import BilevelCore
import BilevelFrontEnd
import BilevelSolvers

/// `--budget-s`: before a run starts, a lower bound on its time from the
/// plans' flop and instruction counts and the step counts; a run estimated
/// beyond the budget stops with the estimate, as the memory budget does.
/// Computed in Double: huge step counts give a huge (or infinite) estimate,
/// never an overflow.
struct TimeBudget {
  static let defaultSeconds = 3600.0
  /// Optimistic rates, so the estimate is a lower bound: 10 Gflop/s and 1 ns per instruction.
  static let flopsPerSecond = 1e10
  static let secondsPerInstruction = 1e-9

  let seconds: Double
  /// How the estimate was made, for the message.
  let breakdown: String

  /// A plan's cost per evaluation in seconds.
  static func cost<S>(_ f: Compiled<S>) -> Double {
    let plan = f.plan
    let flops = plan.instructions.indices.reduce(0.0) { $0 + Double(plan.cost($1).flops) }
    return flops / flopsPerSecond + Double(plan.instructions.count) * secondsPerInstruction
  }

  /// One hypergradient evaluation per outer step (`outerSteps` + 1 of them),
  /// per task, after computing the values of data alone once (`hoistedFlops`).
  init(
    _ problem: BilevelProblem, method: HypergradientMethod, outerSteps: Int, hoistedFlops: Double
  ) {
    let p = problem.source
    let evaluations = Double(outerSteps) + 1
    let tasks = Double(problem.tasks)
    let once = hoistedFlops / Self.flopsPerSecond
    let setup = once > 0 ? " + \(Self.text(once)) computing values of data alone once" : ""
    guard !p.isSingleLevel else {
      let each = Self.cost(problem.outerGradient)
      seconds = evaluations * each + once
      breakdown = "\(formatValue(evaluations)) gradient evaluations × \(Self.text(each))\(setup)"
      return
    }
    let spec = p.innerSolver?.spec
    // Inner steps: the fixed count, else at least one (a tolerance solver's count is unknown).
    let steps = Double(spec?.fixedSteps ?? 1)
    var inner = 0.0
    if problem.stepRule != nil {
      inner = steps * Self.cost(problem.step(0))
    } else if p.innerFixpoint != nil {
      inner = steps * Self.cost(problem.fixpoint(0))
    } else if p.innerLoss != nil, spec != nil {
      inner = steps * Self.cost(problem.innerGradient(0))
    }
    let d = Double(problem.innerSize)
    var extra = 0.0
    switch method {
    case .unrollReverse, .truncated:
      let k: Double
      if case .truncated(let n) = method { k = Double(n) } else { k = steps }
      if problem.stepRule != nil { extra = k * Self.cost(problem.tapedPullback(0)) }
    case .unrollForward: extra = Double(problem.outerSize) * inner
    case .implicitConjugateGradient(let k, _), .implicitNeumann(let k, _):
      if p.innerLoss != nil { extra = Double(k) * Self.cost(problem.hessianVector(0)) }
    case .implicitExact, .closedForm:
      if p.innerLoss != nil { extra = d * Self.cost(problem.hessianVector(0)) }
      extra += d * d * d / 3 / Self.flopsPerSecond
      if method == .closedForm { inner = 0 }
    case .finiteDifference: extra = 2 * inner
    case .evograd(let k, _, _, _, _, _): extra = Double(k) * inner
    case .proxy(let s):
      // Training: each step evaluates the inner gradient at P_α(φ) for every
      // draw and pulls it back through P_α (about twice its cost); the first
      // step's training is spread over the evaluations.
      let trainingSteps = Double(s.mode == .global ? 0 : s.refit) + Double(s.steps) / evaluations
      if p.innerLoss != nil {
        extra = trainingSteps * Double(s.samples) * 2 * Self.cost(problem.innerGradient(0))
      }
    case .firstOrder, .adjoint: break
    }
    let each = inner + extra
    seconds = evaluations * tasks * each + once
    breakdown =
      "\(formatValue(evaluations)) hypergradient evaluation\(evaluations == 1 ? "" : "s")"
      + (problem.tasks > 1 ? " × \(problem.tasks) tasks" : "")
      + " × \(Self.text(each)) (\(formatValue(steps)) inner step\(steps == 1 ? "" : "s") and \(method.title))"
      + setup
  }

  static func text(_ s: Double) -> String {
    guard s.isFinite else { return "more than 1e308 s" }
    if s >= 1e-3 && s < 1e6 { return "\(formatValue((s * 1000).rounded() / 1000)) s" }
    return "\(ProgressPrinter.short(s)) s"
  }

  /// The located refusal when the estimate is over `budget` seconds (nil: within it).
  func fault(budget: Double, at range: SourceRange?) -> SolverFault? {
    guard !(seconds <= budget) else { return nil }
    return SolverFault(
      .overBudget,
      "the run is estimated to take at least \(Self.text(seconds)) (\(breakdown), at \(formatValue(Self.flopsPerSecond)) flop/s), over the \(Self.text(budget)) time budget; "
        + "lower the outer or inner steps, or raise --budget-s",
      origin: range)
  }
}
