import BilevelCore
import BilevelFrontEnd

/// The records of the methods that differentiate the inner solution through
/// the implicit function theorem: implicit(cg | neumann | exact) and closed_form.
extension ImplicitDifferentiation {
  static func record(_ method: HypergradientMethod) -> MethodRecord {
    MethodRecord(
      inapplicable: { _ in nil },
      view: .solution,
      cost: { s in cost(method, s) },
      checkedMap: { _ in .tight },
      checkFamily: method == .implicitExact ? .implicitReference : .implicit,
      compute: { problem, phi throws(SolverFault) in
        try ImplicitDifferentiation(problem: problem, method: method).compute(phi)
      })
  }

  static func cost(_ method: HypergradientMethod, _ s: ProblemSizes) -> MethodCost {
    switch method {
    case .implicitConjugateGradient(let k, _):
      let bytes = saturatingProduct(
        saturatingSum(saturatingProduct(4, s.inner), s.outer), Bytes.double, s.tasks)
      return MethodCost(
        label: "implicit(cg, iters: \(k))",
        time: s.hasFixpoint
          ? "the inner solve + up to \(2 * k) vector-Jacobian products (BiCGSTAB: a fixpoint's adjoint system is not symmetric) + 1 more for ∂E/∂φ"
          : "the inner solve + \(k) Hessian-vector products + 1 mixed product",
        memoryBytes: bytes, memory: "4 vectors of d + m = \(formatBytes(bytes))")
    case .implicitNeumann(let k, _):
      let bytes = saturatingProduct(
        saturatingSum(saturatingProduct(3, s.inner), s.outer), Bytes.double, s.tasks)
      return MethodCost(
        label: "implicit(neumann, iters: \(k))",
        time: "the inner solve + \(k) Hessian-vector products + 1 mixed product",
        memoryBytes: bytes, memory: "3 vectors of d + m = \(formatBytes(bytes))")
    default:
      let bytes = saturatingProduct(s.inner, s.inner, Bytes.double, s.tasks)
      let time =
        s.hasFixpoint
        ? "the inner solve + \(count(s.inner, "vector-Jacobian product")) + an LU factorisation of I − ∂E/∂z (2d³/3 flops)"
        : "the inner solve + \(count(s.inner, "Hessian-vector product")) + a Cholesky factorisation (d³/3 flops)"
      return MethodCost(
        label: "implicit(exact)", time: time, memoryBytes: bytes,
        memory: "\(s.hasFixpoint ? "d × d matrix" : "d × d Hessian") = \(formatBytes(bytes))")
    }
  }
}

extension ClosedForm {
  static let record = MethodRecord(
    inapplicable: { s in
      if s.hasFixpoint { return "it needs an inner loss, not an 'inner fixpoint'" }
      return s.quadratic ? nil : "the inner loss is not quadratic in the inner variables"
    },
    view: .solution,
    cost: { s in
      let bytes = saturatingProduct(s.inner, s.inner, Bytes.double, s.tasks)
      return MethodCost(
        label: MethodKind.closedForm.rawValue,
        time: "no inner iterations: \(count(s.inner, "Hessian-vector product")) + one d × d solve",
        memoryBytes: bytes, memory: "d × d Hessian = \(formatBytes(bytes))")
    },
    checkedMap: { _ in .tight },
    checkFamily: .implicit,
    compute: { problem, phi throws(SolverFault) in try ClosedForm(problem: problem).compute(phi) },
    diagnose: quadraticDiagnostics)

  /// Where the inner loss stops being quadratic, shown at the term itself.
  static func quadraticDiagnostics(_ program: Program, _ method: SourceRange) -> [Diagnostic] {
    guard let loss = program.innerLoss else { return [] }
    let names = program.variables(.inner).map { "'\(program.variables[$0].name)'" }.joined(
      separator: ", ")
    let analysis = PolynomialDegree.analyse(program.graph, root: loss) { op in
      if case .variable(let i) = op { return program.variables[i].level == .inner }
      return false
    }
    if let term = analysis.firstNonQuadratic {
      let range = program.graph.origin(term) ?? method
      return [
        .error(
          .notQuadratic(names, term: range.text), at: range,
          notes: [.note(Message("closed_form was asked for here"), at: method)])
      ]
    }
    if analysis.degree < 2 {
      return [.error(.linearInnerLoss(names), at: program.graph.origin(loss) ?? method)]
    }
    return []
  }
}
