import BilevelCore
import BilevelFrontEnd

/// The records of the methods that differentiate the unrolled inner solver:
/// unroll(reverse), checkpointed, forward, and truncated(K).
extension UnrolledReverse {
  static func tapeText(_ s: ProblemSizes, steps: Int) -> String {
    let stateBytes = s.state * Bytes.double
    let stepBytes = (s.state + s.residuals) * Bytes.double
    return s.residuals == 0
      ? "\(steps + 1) states × \(formatBytes(stateBytes))\(s.perTask)"
      : "\(count(steps, "step")) × \(formatBytes(stepBytes)) (\(s.state) state + \(s.residuals) residual doubles) + 1 state\(s.perTask)"
  }

  static func record(checkpoints: Int?) -> MethodRecord {
    MethodRecord(
      inapplicable: { s in
        if let why = s.needsFixedSteps() { return why }
        if checkpoints != nil, let why = s.needsKnownSteps("its checkpoint schedule") {
          return why
        }
        if let k = checkpoints, let T = s.steps, k > T {
          return "\(k) checkpoints exceed the \(T) inner steps"
        }
        return nil
      },
      view: .iterations,
      cost: { s in
        let T = s.steps ?? 0
        let stateBytes = s.state * Bytes.double
        guard let k = checkpoints else {
          // Every state is kept.
          let tape = saturatingProduct(
            saturatingSum(saturatingProduct(T, s.state + s.residuals, Bytes.double), stateBytes),
            s.tasks)
          return MethodCost(
            label: "unroll(reverse)",
            time: "\(count(T, "step")) forward + \(count(T, "vector-Jacobian product")) (≈ 2·T·c)",
            memoryBytes: tape, memory: "\(tapeText(s, steps: T)) = \(formatBytes(tape)) tape")
        }
        // Each snapshot keeps its step's residuals; one more buffer takes a retaken step's.
        let bytes = saturatingProduct(
          saturatingSum(
            saturatingProduct(saturatingSum(k, 2), stateBytes),
            saturatingProduct(saturatingSum(k, 1), s.residuals, Bytes.double)), s.tasks)
        let recomputed = T > 0 ? CheckpointSchedule.optimalRecomputation(steps: T, snapshots: k) : 0
        let retaken = CheckpointSchedule.retakenSteps(steps: T, snapshots: k)
        return MethodCost(
          label: s.steps == nil
            ? "unroll(reverse, checkpoints: k)" : "unroll(reverse, checkpoints: \(k))",
          time:
            "\(count(T, "step")) forward + \(recomputed) recomputed (the binomial optimum for \(count(k, "snapshot"))) "
            + "+ \(retaken.map(String.init) ?? "at most \(T - 1)") retaken + \(count(T, "vector-Jacobian product"))",
          memoryBytes: bytes,
          memory:
            "\(k + 2) states × \(formatBytes(stateBytes))\(s.residuals > 0 ? " + \(k + 1) steps' residuals × \(formatBytes(s.residuals * Bytes.double))" : "")\(s.perTask) = \(formatBytes(bytes))"
        )
      },
      checkedMap: { _ in .unrolled },
      checkFamily: checkpoints == nil ? .unrolledReference : .unrolled,
      compute: { problem, phi throws(SolverFault) in
        try UnrolledReverse(problem: problem, truncation: nil, checkpoints: checkpoints).compute(
          phi)
      })
  }

  static func truncatedRecord(steps K: Int) -> MethodRecord {
    MethodRecord(
      inapplicable: { s in
        if let why = s.needsFixedSteps() { return why }
        if let T = s.steps, K < T, let why = s.needsKnownSteps("truncating to the last \(K)") {
          return why
        }
        if let T = s.steps, K > T {
          return
            "it truncates to the last \(K) steps, but the inner solver runs only \(T); use unroll(reverse)"
        }
        return nil
      },
      view: .iterations,
      cost: { s in
        let T = s.steps ?? 0
        let bytes = saturatingProduct(
          saturatingSum(
            saturatingProduct(K, s.state + s.residuals, Bytes.double), s.state * Bytes.double),
          s.tasks)
        return MethodCost(
          label: s.steps == nil ? "truncated(K)" : "truncated(\(K))",
          time: "\(count(T, "step")) forward + \(K) back (≈ (T + K)·c)",
          memoryBytes: bytes, memory: "\(tapeText(s, steps: K)) = \(formatBytes(bytes))")
      },
      checkedMap: { T in K >= (T ?? 0) ? .unrolled : .truncated(K) },
      checkFamily: .exact,
      compute: { problem, phi throws(SolverFault) in
        try UnrolledReverse(problem: problem, truncation: K, checkpoints: nil).compute(phi)
      })
  }
}

extension UnrolledForward {
  static let record = MethodRecord(
    // An adaptive flow's forward sensitivity runs on the steps it accepts.
    inapplicable: { s in s.adaptiveFlow ? nil : s.needsFixedSteps() },
    view: .iterations,
    cost: { s in
      let T = s.steps ?? 0
      let bytes = saturatingProduct(s.state, s.outer, Bytes.double, s.tasks)
      return MethodCost(
        label: "unroll(forward)",
        time: s.adaptiveMaxSteps.map {
          "tangents along the accepted steps (at most max_steps = \($0); lengths held but the last, horizon − t) × 6 Dormand–Prince stages × \(count(s.outer, "Jacobian-vector product"))"
        } ?? "\(count(T, "step")) × \(count(s.outer, "Jacobian-vector product")) (≈ T·m·c)",
        memoryBytes: bytes,
        memory: "state × m = \(s.state) × \(s.outer) doubles\(s.perTask) = \(formatBytes(bytes))")
    },
    checkedMap: { _ in .unrolled },
    checkFamily: .unrolled,
    compute: { problem, phi throws(SolverFault) in
      try UnrolledForward(problem: problem).compute(phi)
    })
}
