import BilevelCore
import BilevelFrontEnd

/// The records of the methods that approximate the hypergradient without
/// second derivatives of the whole solve: first order, DARTS' finite
/// difference and EvoGrad.
extension ProblemSizes {
  /// θ of every task plus φ, the vectors a method without a tape holds.
  var smallBytes: Int {
    saturatingProduct(saturatingSum(saturatingProduct(inner, tasks), outer), Bytes.double)
  }
  var smallText: String { tasks > 1 ? "d × \(tasks) tasks + m" : "d + m" }
}

extension FirstOrder {
  static let record = MethodRecord(
    inapplicable: { _ in nil },
    view: .solutionAndStart,
    cost: { s in
      MethodCost(
        label: MethodKind.firstOrder.rawValue, time: "the inner solve + one outer gradient",
        memoryBytes: s.smallBytes, memory: "\(s.smallText) doubles = \(formatBytes(s.smallBytes))")
    },
    checkedMap: { _ in .firstOrder },
    checkFamily: .exact,
    compute: { problem, phi throws(SolverFault) in try FirstOrder(problem: problem).compute(phi) })
}

extension FiniteDifferenceStep {
  static func record(eps: Double) -> MethodRecord {
    MethodRecord(
      inapplicable: { s in
        guard case .gd? = s.innerSolver else {
          return
            "it approximates the mixed product of one gradient-descent step (DARTS), but the inner solver is '\(s.innerSolverName)'"
        }
        if !s.plainSteps {
          return
            "it approximates plain gradient-descent steps θ − lr ∇θ L_in (DARTS), but the inner solver has a schedule, clipping or a tolerance"
        }
        if !s.scalarLearningRate {
          return
            "it scales one difference of gradients by the learning rate, which here is per entry; use unroll(reverse)"
        }
        return nil
      },
      view: .iterations,
      cost: { s in
        MethodCost(
          label: MethodKind.finiteDifference.rawValue,
          time: "the inner solve + 2 extra inner gradients",
          memoryBytes: saturatingProduct(3, s.smallBytes),
          memory: "3 (\(s.smallText)) doubles = \(formatBytes(saturatingProduct(3, s.smallBytes)))")
      },
      checkedMap: { T in 1 >= (T ?? 1) ? .unrolled : .truncated(1) },
      checkFamily: .finiteDifference,
      compute: { problem, phi throws(SolverFault) in
        try FiniteDifferenceStep(problem: problem, eps: eps).compute(phi)
      })
  }
}

extension EvolutionaryProxy {
  /// `draw`: which outer step's perturbations the record uses.
  static func record(
    samples: Int, sigma: Double, tau: Double, seed: Int, fresh: Bool, draws: String? = nil,
    draw: Int = 0
  ) -> MethodRecord {
    var record = MethodRecord(
      inapplicable: { s in
        s.hasFixpoint
          ? "it weighs perturbations by the inner loss, and an 'inner fixpoint' has none" : nil
      },
      view: .solution,
      cost: { s in
        let bytes = saturatingProduct(samples, s.inner, Bytes.double, s.tasks)
        return MethodCost(
          label: "evograd(\(samples))", time: "the inner solve + \(samples) inner-loss evaluations",
          memoryBytes: bytes, memory: "\(samples) perturbed copies of θ = \(formatBytes(bytes))")
      },
      checkedMap: { _ in
        .evograd(samples: samples, sigma: sigma, tau: tau, seed: seed, draws: draws)
      },
      checkFamily: .exact,
      compute: { problem, phi throws(SolverFault) in
        try EvolutionaryProxy(
          problem: problem, samples: samples, sigma: sigma, tau: tau, seed: seed, draw: draw,
          table: draws.map(problem.drawTable)
        ).compute(phi)
      })
    if fresh {
      // Step k's record draws stream k's perturbations (step 0's are this record's own).
      record.atOuterStep = { k in
        Self.record(samples: samples, sigma: sigma, tau: tau, seed: seed, fresh: false, draw: k)
      }
    }
    return record
  }
}
