import BilevelCore
import BilevelFrontEnd

/// One method's line in `bilevelc check`'s table.
public struct CheckRow: Sendable {
  public enum Reference: Sendable, Equatable {
    /// No reference to compare with (the method has no family).
    case none
    /// This row is its family's reference.
    case isReference
    case bitIdentical
    case error(Double)
    /// The reference itself failed.
    case unavailable
  }

  public let method: HypergradientMethod
  public let isProgramMethod: Bool
  public let map: CheckedMap
  public let mapDescription: String
  /// ‖g·U − differences‖ / ‖differences‖ over all directions; nil when not computed.
  public internal(set) var differencesError: Double?
  public internal(set) var reference: Reference = .none
  /// The reference's name when it is not a row of the table (finite_difference's truncated(1)).
  public internal(set) var referenceName: String?
  /// Approximate implicit methods: their linear solve's relative residual.
  public internal(set) var linearResidual: Double?
  /// The relative error central differences cannot resolve here (their
  /// rounding, ε·|F|/h, against the size of the derivative): the tolerance
  /// against them is never below it.
  public internal(set) var differencesResolution: Double?
  /// What was out of tolerance (or failed); nil when the row passes.
  public internal(set) var failure: String?
  /// Why the method does not apply at this point (a singular inner Hessian,
  /// an inner problem that cannot be solved tightly): not a failure, except
  /// for the program's own method.
  public internal(set) var notApplicable: String?
  /// A method capped on purpose (an adjoint solve stopped by its iterations,
  /// truncation, first order): its bias against the exact hypergradient,
  /// reported rather than failed.
  public internal(set) var capped: String?
  public internal(set) var gradient: [Double] = []
  /// Per task, the gradient of the method's per-task map (HypergradientResult.taskGradient).
  var taskGradients: [[Double]] = []

  public var label: String { method.description }
}

/// What `bilevelc check` found at the initial point.
public struct CheckReport: Sendable {
  public let outerSize: Int
  public let directionCount: Int
  public let randomDirections: Bool
  public let step: Double
  public internal(set) var rows: [CheckRow] = []
  /// ‖∇θ L_in‖ (or ‖E(z) − z‖) after the tight solve, when implicit rows needed it.
  public internal(set) var tightResidual: Double?
  /// Why the tight map could not be checked, when it could not.
  public internal(set) var tightProblem: String?
  /// ∂L_out/∂θ is exactly 0 at the inner solver's θ(φ₀): every method then
  /// returns ∂L_out/∂φ alone, and the table cannot tell them apart.
  public internal(set) var outerIgnoresInnerHere = false
  /// Programs with tasks: the program's method and the references, per task.
  public internal(set) var taskChecks: [TaskCheck] = []
  /// Methods left out of the table, and why.
  public internal(set) var skipped: [String] = []
  public var failures: [CheckRow] { rows.filter { $0.failure != nil } }
  public var taskFailures: [TaskCheck] { taskChecks.filter { $0.failure != nil } }
  public var checked: [CheckRow] { rows.filter { $0.notApplicable == nil } }
}

/// `bilevelc check`'s hypergradient part (METHODS.md, "Checking"): every
/// method that applies to the program, each against central differences
/// (4-point Richardson) of the map it differentiates exactly, and the
/// unrolled and implicit families against their references.
public struct HypergradientCheck {
  public static let step = 1e-3
  /// Tangent steps (T·m·M) beyond which unroll(forward) is left out unless it is the program's method.
  public static let forwardLimit = 2000
  public static let exactTolerance = 1e-6
  /// The largest relative residual an approximate implicit solve may stop at.
  public static let convergedResidual = 1e-2
  public static let roundingTolerance = 1e-10
  public static let finiteDifferenceTolerance = 1e-3
  /// Above this many outer entries, seeded random unit directions replace coordinates.
  public static let coordinateLimit = 10
  public static let randomDirections = 4
  /// implicit(exact) forms d × d matrices: skipped above this d.
  public static let denseLimit = 2000

  typealias Kind = CheckFamily

  struct Spec {
    let method: HypergradientMethod
    let kind: Kind
    init(method: HypergradientMethod, kind: Kind? = nil) {
      self.method = method
      self.kind = kind ?? method.record.checkFamily
    }
  }

  let problem: BilevelProblem
  let programMethod: HypergradientMethod
  let sizes: ProblemSizes
  /// Check the program's method alone (with the reference it is compared
  /// with), not every applicable method.
  let programMethodOnly: Bool

  public init(
    problem: BilevelProblem, programMethod: HypergradientMethod, programMethodOnly: Bool = false
  ) {
    self.problem = problem
    self.programMethod = programMethod
    self.programMethodOnly = programMethodOnly
    sizes = ProblemSizes(problem)
  }

  /// The program's method and the reference rows its figures are judged against.
  func restricted(_ specs: [Spec]) -> [Spec] {
    guard programMethodOnly, let mine = specs.first(where: { $0.method == programMethod }) else {
      return specs
    }
    let references: Set<Kind> =
      switch mine.kind {
      case .unrolled: [.unrolledReference]
      case .implicit, .approximateImplicit: [.implicitReference]
      case .exact where Self.cappedKinds.contains(mine.method.kind):
        [.unrolledReference, .implicitReference]
      default: []
      }
    return specs.filter { $0.method == programMethod || references.contains($0.kind) }
  }

  /// Methods exact for a map of their own that is not the hypergradient's.
  static let cappedKinds: Set<MethodKind> = [.truncated, .firstOrder, .proxy]

  /// The methods checked, in table order, with the program's settings where
  /// it names the method; each where its record says it applies.
  func specs() -> (specs: [Spec], skipped: [String]) {
    // Without an inner problem the outer loss's gradient is the only method.
    if problem.source.isSingleLevel { return ([Spec(method: .firstOrder, kind: .exact)], []) }
    var out: [Spec] = []
    var skipped: [String] = []
    func add(_ method: HypergradientMethod, _ kind: Kind? = nil) {
      if method.record.inapplicable(sizes) == nil { out.append(Spec(method: method, kind: kind)) }
    }
    let d = problem.innerSize
    if let T = sizes.steps {
      add(.unrollReverse(checkpoints: nil))
      var k = max(1, Int(Double(T).squareRoot().rounded(.up)))
      if case .unrollReverse(let p?) = programMethod { k = p }
      add(.unrollReverse(checkpoints: min(k, T)))
      // Forward mode costs T·m tangent steps: checked where it is the program's choice or cheap.
      let tangentSteps = T * problem.outerSize * problem.tasks
      if tangentSteps <= Self.forwardLimit || programMethod == .unrollForward {
        add(.unrollForward)
      } else {
        skipped.append(
          "unroll(forward): T·m·M = \(tangentSteps) tangent steps (over \(Self.forwardLimit)); forward mode is for small m"
        )
      }
      var K = min(T, 5)
      if case .truncated(let p) = programMethod { K = p }
      add(.truncated(steps: K))
    }
    add(.firstOrder)
    var eps = 0.01
    if case .finiteDifference(let e) = programMethod { eps = e }
    add(.finiteDifference(eps: eps))
    // σ = 0.1 rather than evograd's usual 0.01: the map's slope in φ grows
    // with σ while its rounding does not (at 0.01, poisoning_box's check
    // came within 2× of the tolerance).
    var evograd = HypergradientMethod.evograd(
      samples: 4, sigma: 0.1, tau: 0.1, seed: 1, fresh: false)
    if case .evograd = programMethod { evograd = programMethod }
    add(evograd)
    if d <= Self.denseLimit || programMethod == .implicitExact { add(.implicitExact) }
    let cg = HypergradientMethod.implicitConjugateGradient(
      iterations: min(4 * d, 500), tolerance: 1e-12)
    add(cg)
    switch programMethod {
    case .implicitConjugateGradient, .implicitNeumann:
      if programMethod != cg { add(programMethod, .approximateImplicit) }
    default: break
    }
    add(.closedForm)
    // Every proxy variant, with the program's settings where it names one.
    var proxy = ProxySettings(mode: .global)
    if case .proxy(let s) = programMethod { proxy = s }
    for mode in [ProxySettings.Mode.global, .local, .linearized] {
      let s = ProxySettings(
        mode: mode, samples: proxy.samples, sigma: proxy.sigma,
        uniform: mode == .global && proxy.uniform, steps: proxy.steps,
        refit: proxy.refit > 0 ? proxy.refit : 20, lr: proxy.lr, seed: proxy.seed)
      add(
        programMethod.kind == .proxy && programMethod.title == "proxy(\(mode.rawValue))"
          ? programMethod : .proxy(s))
    }
    // A method kind the rows above do not name is checked with its table settings.
    for m in MethodTable.rows(sizes, costing: programMethod)
    where !out.contains(where: { $0.method.kind == m.kind }) { add(m) }
    if !out.contains(where: { $0.method == programMethod }) {
      out.append(Spec(method: programMethod, kind: .exact))
    }
    return (out, skipped)
  }

  /// φ₀: the program's initial outer point, in its box.
  func initialPoint() -> [Double] {
    var phi = problem.initialOuter()
    OuterOptimizer(problem.source.outerSolver, bounds: problem.outerBounds()).project(&phi)
    return phi
  }

  func directions() -> [[Double]] {
    let m = problem.outerSize
    if m <= Self.coordinateLimit { return (0..<m).map { j in (0..<m).map { $0 == j ? 1.0 : 0.0 } } }
    return (0..<Self.randomDirections).map { k in
      let u = RandomStream.normal(shape: Shape([m]), seed: UInt64(7001 + k)).scalars
      let n = norm(u)
      return u.map { $0 / n }
    }
  }

  /// `progress` hears of each method as its check starts (for long checks).
  public func run(
    progress: (_ index: Int, _ count: Int, _ method: String) -> Void = { _, _, _ in }
  ) -> CheckReport {
    let phi0 = initialPoint()
    let maps = CheckedMapEvaluator(problem: problem, phi0: phi0)
    let units = directions()
    let T = InnerSolver(problem).fixedSteps
    var report = CheckReport(
      outerSize: problem.outerSize, directionCount: units.count,
      randomDirections: problem.outerSize > Self.coordinateLimit, step: Self.step)
    let (all, skipped) = specs()
    let specs = restricted(all)
    report.skipped = skipped
    if specs.contains(where: { $0.method.record.checkedMap(T) == .tight }) {
      do {
        let tight = try maps.tight()
        report.tightResidual = tight.residual
        let what = problem.hasFixpoint ? "‖E(z) − z‖" : "‖∇θ L_in‖"
        let threshold = try maps.tightThreshold()
        if !(tight.residual <= threshold) {
          report.tightProblem =
            "the inner problem could not be solved tightly (\(what) is \(ErrorFigure.exceeding(tight.residual)), over \(formatValue(threshold)))"
        }
      } catch {
        report.tightProblem = "the tight inner solve failed: \(error.message)"
      }
    }
    if !problem.source.isSingleLevel, let solution = try? maps.solution(),
      let c = try? problem.outerGradientsInner(solution.theta, phi0)
    {
      report.outerIgnoresInnerHere = c.allSatisfy { $0.allSatisfy { $0 == 0 } }
    }
    var differences: [CheckedMap: Result<[Double], SolverFault>] = [:]
    var noise: [CheckedMap: Double] = [:]
    for (index, spec) in specs.enumerated() {
      progress(index + 1, specs.count, spec.method.description)
      let map = spec.method.record.checkedMap(T)
      let mine = spec.method == programMethod
      var row = CheckRow(
        method: spec.method, isProgramMethod: mine, map: map,
        mapDescription: problem.source.isSingleLevel
          ? "the outer loss (no inner problem)"
          : map.description(steps: T) + (problem.overTrajectory ? ", Σ_t w_t L_out(θ_t)" : ""))
      defer { report.rows.append(row) }
      if map == .tight, let why = report.tightProblem {
        if mine { row.failure = why } else { row.notApplicable = why }
        continue
      }
      do {
        let result = try gradient(spec.method, maps: maps, phi0)
        row.gradient = result.gradient
        if problem.tasks > 1 { row.taskGradients = (0..<problem.tasks).map(result.taskGradient) }
        let residual = result.linearSolve?.relativeResidual
        if spec.kind == .approximateImplicit { row.linearResidual = residual }
        // A convergent solver that cannot reach a small residual meets a singular, inconsistent adjoint system.
        if spec.kind == .implicit, spec.method != .closedForm, let r = residual,
          !(r <= Self.exactTolerance)
        {
          let why =
            "its linear solve stops at a relative residual of \(ErrorFigure.exceeding(r)): the inner Hessian is singular or too ill-conditioned here"
          if mine { row.failure = why } else { row.notApplicable = why }
          continue
        }
      } catch {
        if !mine && error.kind == .singularSystem {
          row.notApplicable = error.reason
        } else {
          row.failure = error.message
        }
        continue
      }
      if differences[map] == nil {
        do {
          var n = 0.0
          differences[map] = .success(
            try centralDifferences(map, maps: maps, phi0, units, noise: &n))
          noise[map] = n
        } catch {
          differences[map] = .failure(error)
        }
      }
      switch differences[map]! {
      case .success(let fd):
        row.differencesError = relativeError(units.map { dot(row.gradient, $0) }, fd)
        row.differencesResolution = (noise[map] ?? 0) / max(norm(fd), 1e-300)
      case .failure(let e):
        row.failure = "differences of its map failed: \(e.message)"
      }
    }
    compareWithReferences(&report, specs, phi0)
    for (i, spec) in specs.enumerated()
    where report.rows[i].failure == nil && report.rows[i].notApplicable == nil {
      judge(&report.rows[i], spec.kind)
    }
    // Per-task parts exist where each task has an inner solution of its own.
    if problem.tasks > 1 && !problem.source.isSingleLevel {
      report.taskChecks = checkTasks(report.rows, specs, maps: maps, phi0, units)
    }
    return report
  }

  /// The method's gradient at φ₀; implicit methods (but closed_form, which
  /// solves its quadratic itself) at the tight inner solution.
  func gradient(
    _ method: HypergradientMethod, maps: CheckedMapEvaluator, _ phi0: [Double]
  ) throws(SolverFault) -> HypergradientResult {
    if method.isImplicit && method != .closedForm {
      return try ImplicitDifferentiation(problem: problem, method: method).differentiate(
        at: try maps.tight(), phi0)
    }
    return try problem.hypergradient(method, at: phi0)
  }

  /// Rounding of one evaluation of a map, relative to |F|: the map sums
  /// many terms through many inner steps, so a few dozen ε.
  public static let mapRounding = 64 * Double.ulpOfOne

  /// (8(F(φ+hu) − F(φ−hu)) − (F(φ+2hu) − F(φ−2hu))) / 12h along each u.
  /// `noise` gets the norm over directions of what rounding alone can move
  /// them by: (8 + 8 + 1 + 1)/12 · mapRounding · max|F| / h.
  func centralDifferences(
    _ map: CheckedMap, maps: CheckedMapEvaluator, _ phi0: [Double], _ units: [[Double]],
    noise: inout Double
  ) throws(SolverFault) -> [Double] {
    let h = Self.step
    var out: [Double] = []
    var squares = 0.0
    for u in units {
      var f: [Double] = []
      for s in [1.0, -1.0, 2.0, -2.0] {
        let phi = (0..<phi0.count).map { phi0[$0] + (s * h) * u[$0] }
        f.append(try maps.evaluate(map, at: phi))
      }
      out.append((8 * (f[0] - f[1]) - (f[2] - f[3])) / (12 * h))
      let e = 1.5 * Self.mapRounding * f.map(abs).reduce(0, max) / h
      squares += e * e
    }
    noise = squares.squareRoot()
    return out
  }

  func relativeError(_ x: [Double], _ reference: [Double]) -> Double {
    var diff = 0.0
    for i in x.indices { diff += (x[i] - reference[i]) * (x[i] - reference[i]) }
    return diff.squareRoot() / max(norm(reference), 1e-300)
  }

  func compareWithReferences(_ report: inout CheckReport, _ specs: [Spec], _ phi0: [Double]) {
    func referenceGradient(_ kind: Kind) -> [Double]? {
      guard let i = specs.firstIndex(where: { $0.kind == kind }),
        report.rows[i].notApplicable == nil
      else { return nil }
      return report.rows[i].failure == nil ? report.rows[i].gradient : []
    }
    let unrolled = referenceGradient(.unrolledReference)
    let implicit = referenceGradient(.implicitReference)
    for (i, spec) in specs.enumerated()
    where report.rows[i].failure == nil && report.rows[i].notApplicable == nil {
      let g = report.rows[i].gradient
      func compare(_ reference: [Double]?) {
        guard let reference else { return }
        if reference.isEmpty {
          report.rows[i].reference = .unavailable
        } else {
          report.rows[i].reference =
            g == reference ? .bitIdentical : .error(relativeError(g, reference))
        }
      }
      switch spec.kind {
      case .unrolledReference, .implicitReference: report.rows[i].reference = .isReference
      case .unrolled: compare(unrolled)
      case .implicit, .approximateImplicit: compare(implicit)
      case .finiteDifference:
        report.rows[i].referenceName = "truncated(1)"
        let exact = try? problem.hypergradient(.truncated(steps: 1), at: phi0).gradient
        compare(exact ?? [])
      case .exact where spec.method.kind == .proxy:
        // A proxy stands for the best response θ*(φ): its bias against the exact hypergradient.
        if let m = implicit, !m.isEmpty {
          report.rows[i].referenceName = "implicit(exact)"
          compare(m)
        } else if let u = unrolled, !u.isEmpty {
          report.rows[i].referenceName = MethodKind.unroll.rawValue + "(reverse)"
          compare(u)
        }
      case .exact where Self.cappedKinds.contains(spec.method.kind):
        // The bias of a method capped on purpose, against the hypergradient it approximates.
        if let u = unrolled, !u.isEmpty {
          report.rows[i].referenceName = MethodKind.unroll.rawValue + "(reverse)"
          compare(u)
        } else if let m = implicit, !m.isEmpty {
          report.rows[i].referenceName = "implicit(exact)"
          compare(m)
        }
      case .exact: break
      }
    }
  }

  func judge(_ row: inout CheckRow, _ kind: Kind) {
    let fd = row.differencesError ?? .infinity
    // Against differences, never tighter than what they resolve.
    let resolution = row.differencesResolution ?? 0
    let exactTolerance = max(Self.exactTolerance, resolution)
    let finiteDifferenceTolerance = max(Self.finiteDifferenceTolerance, resolution)
    func within(_ x: Double, _ limit: Double) -> Bool { x <= limit }
    // The figure as a bound (it is over its limit), the limit as set.
    func over(_ x: Double, _ limit: Double) -> String {
      "\(ErrorFigure.exceeding(x)), over \(formatValue(limit))"
    }
    var referenceError: Double? {
      switch row.reference {
      case .bitIdentical: return 0
      case .error(let e): return e
      default: return nil
      }
    }
    switch kind {
    case .unrolledReference, .exact, .implicitReference:
      if !within(fd, exactTolerance) {
        row.failure = "differs from central differences by \(over(fd, exactTolerance))"
      }
      if kind == .exact, Self.cappedKinds.contains(row.method.kind), let e = referenceError,
        e > Self.roundingTolerance, let name = row.referenceName
      {
        row.capped = "exact for its own map; bias \(ErrorFigure.rounding.text(e)) against \(name)"
      }
    case .unrolled, .implicit:
      let limit = kind == .unrolled ? Self.roundingTolerance : Self.exactTolerance
      if !within(fd, exactTolerance) {
        row.failure = "differs from central differences by \(over(fd, exactTolerance))"
      } else if let e = referenceError, !within(e, limit) {
        row.failure = "differs from its reference by \(over(e, limit))"
      }
    case .finiteDifference:
      if !within(fd, finiteDifferenceTolerance) {
        row.failure =
          "differs from central differences of truncated(1)'s map by \(over(fd, finiteDifferenceTolerance))"
      }
    case .approximateImplicit:
      let residual = row.linearResidual ?? .infinity
      let limit = max(Self.exactTolerance, 10 * residual)
      if !(residual <= Self.convergedResidual) {
        // Stopped by its iterations on purpose: the 10× rule would pass almost any error, so report the bias instead.
        let bias =
          referenceError.map { "bias \(ErrorFigure.rounding.text($0)) against implicit(exact)" }
          ?? "bias against central differences \(ErrorFigure.differences.text(fd))"
        row.capped =
          "its linear solve stops at a relative residual of \(ErrorFigure.rounding.text(residual)) (its iterations): \(bias)"
      } else if let e = referenceError {
        if !within(e, limit) {
          row.failure =
            "differs from implicit(exact) by \(ErrorFigure.exceeding(e)), over max(1e-6, 10 × its relative residual)"
        }
      } else if !within(fd, max(limit, resolution)) {
        row.failure =
          "differs from central differences by \(ErrorFigure.exceeding(fd)), over max(1e-6, 10 × its relative residual)"
      }
    }
  }
}
