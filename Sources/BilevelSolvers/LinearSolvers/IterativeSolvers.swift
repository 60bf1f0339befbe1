import BilevelCore
import BilevelFrontEnd

/// y = A x for a matrix known only through its products (a Hessian, the
/// adjoint of a fixpoint): the one shape every solver here takes.
public typealias MatrixProduct = (_ x: [Double], _ y: inout [Double]) throws(SolverFault) -> Void

/// What an iterative linear solve reached: the residual ‖b − A x‖ it
/// measured, relative to ‖b‖, and why it stopped.
public struct LinearSolveReport: Sendable {
  public var iterations: Int
  public var residual: Double
  public var relativeResidual: Double
  /// Set when CG met a direction p with pᵀAp ≤ 0: A is not positive definite
  /// there, and x is the iterate before that direction.
  public var nonPositiveCurvature: (iteration: Int, curvature: Double)?
  public var method: String
}

extension LinearSolveReport {
  /// Measures ‖b − A x‖ with one more product: the recurrences' own
  /// residuals drift from the true one, and a dense solve has none.
  mutating func measure(
    _ b: [Double], _ x: [Double], scratch: inout [Double],
    apply: MatrixProduct
  ) throws(SolverFault) {
    try apply(x, &scratch)
    var r = 0.0
    for i in b.indices { r += (b[i] - scratch[i]) * (b[i] - scratch[i]) }
    residual = r.squareRoot()
    let bNorm = norm(b)
    relativeResidual = bNorm == 0 ? 0 : residual / bNorm
  }
}

/// Matrix-free solvers for A x = b, where `apply(x, &y)` computes y = A x.
public enum IterativeSolvers {
  /// Conjugate gradients for symmetric positive-definite A, from x = 0.
  /// Stops after `iterations` or when ‖r‖ ≤ tolerance·‖b‖, and on
  /// non-positive curvature (reported, never silently continued).
  public static func conjugateGradient(
    _ b: [Double], iterations: Int, tolerance: Double,
    apply: MatrixProduct
  ) throws(SolverFault)
    -> (x: [Double], report: LinearSolveReport)
  {
    let n = b.count
    var x = [Double](repeating: 0, count: n)
    var r = b
    var p = b
    var ap = [Double](repeating: 0, count: n)
    let bNorm = norm(b)
    var rr = dot(r, r)
    var report = LinearSolveReport(
      iterations: 0, residual: rr.squareRoot(), relativeResidual: bNorm == 0 ? 0 : 1, method: "cg")
    if bNorm == 0 { return (x, report) }
    for k in 0..<iterations {
      if rr.squareRoot() <= tolerance * bNorm { break }
      try apply(p, &ap)
      let curvature = dot(p, ap)
      if !(curvature > 0) {
        report.nonPositiveCurvature = (k + 1, curvature)
        break
      }
      let alpha = rr / curvature
      for i in 0..<n {
        x[i] += alpha * p[i]
        r[i] -= alpha * ap[i]
      }
      let next = dot(r, r)
      let beta = next / rr
      rr = next
      for i in 0..<n { p[i] = r[i] + beta * p[i] }
      report.iterations = k + 1
    }
    try report.measure(b, x, scratch: &ap, apply: apply)
    return (x, report)
  }

  /// The truncated Neumann series x = α Σ_{j=0..K} (I − αA)^j b, which
  /// converges when the spectrum of αA lies in (0, 2).
  /// A term that grows past 1e8‖b‖ means I − αH has an eigenvalue beyond
  /// ±1: the series diverges, and the fault points at `alpha` (its setting).
  public static func neumann(
    _ b: [Double], iterations: Int, alpha: Double, alphaOrigin: SourceRange? = nil,
    apply: MatrixProduct
  ) throws(SolverFault)
    -> (x: [Double], report: LinearSolveReport)
  {
    let n = b.count
    var term = b
    var sum = b
    var a = [Double](repeating: 0, count: n)
    let limit = 1e8 * norm(b)
    for k in 0..<iterations {
      let size = norm(term)
      if !(size <= limit) {
        throw SolverFault(
          .diverged, at: "implicit(neumann)",
          "the Neumann series diverges (term \(k) of \(iterations) has norm \(formatValue(size))): alpha = \(formatValue(alpha)) is too large, the series needs alpha·‖H‖ < 2",
          origin: alphaOrigin)
      }
      try apply(term, &a)
      for i in 0..<n {
        term[i] -= alpha * a[i]
        sum[i] += term[i]
      }
    }
    var x = sum
    for i in 0..<n { x[i] *= alpha }
    var report = LinearSolveReport(
      iterations: iterations, residual: 0, relativeResidual: 0, method: "neumann")
    try report.measure(b, x, scratch: &a, apply: apply)
    return (x, report)
  }

  /// BiCGSTAB (van der Vorst) for a nonsymmetric A, such as the adjoint
  /// system (I − ∂E/∂z)ᵀ v = g of a fixpoint: two products per iteration.
  public static func biconjugateGradientStabilized(
    _ b: [Double], iterations: Int, tolerance: Double,
    apply: MatrixProduct
  ) throws(SolverFault)
    -> (x: [Double], report: LinearSolveReport)
  {
    let n = b.count
    var x = [Double](repeating: 0, count: n)
    var r = b
    let rHat = b
    var p = [Double](repeating: 0, count: n)
    var v = [Double](repeating: 0, count: n)
    var s = [Double](repeating: 0, count: n)
    var t = [Double](repeating: 0, count: n)
    var rho = 1.0, alpha = 1.0, omega = 1.0
    let bNorm = norm(b)
    var report = LinearSolveReport(
      iterations: 0, residual: bNorm, relativeResidual: bNorm == 0 ? 0 : 1, method: "bicgstab")
    if bNorm == 0 { return (x, report) }
    for k in 0..<iterations {
      if norm(r) <= tolerance * bNorm { break }
      let next = dot(rHat, r)
      if next == 0 { break }
      let beta = (next / rho) * (alpha / omega)
      rho = next
      for i in 0..<n { p[i] = r[i] + beta * (p[i] - omega * v[i]) }
      try apply(p, &v)
      let denominator = dot(rHat, v)
      if denominator == 0 { break }
      alpha = rho / denominator
      for i in 0..<n { s[i] = r[i] - alpha * v[i] }
      try apply(s, &t)
      let tt = dot(t, t)
      omega = tt == 0 ? 0 : dot(t, s) / tt
      for i in 0..<n {
        x[i] += alpha * p[i] + omega * s[i]
        r[i] = s[i] - omega * t[i]
      }
      report.iterations = k + 1
      if omega == 0 { break }
    }
    try report.measure(b, x, scratch: &t, apply: apply)
    return (x, report)
  }
}
