import Foundation
import TestSupport

/// Ridge regression written out by hand in plain Swift, the independent
/// reference for the hypergradient methods:
///   L_in(w, φ)  = ½ mean((X w − y)²) + ½ λ ‖w‖²,  λ = exp(loglam)
///   L_out(w, φ) = ½ mean((Xv w − yv)²) + 0.05 ‖w0 − 0.3‖²
/// φ = (loglr, loglam, w0); the inner solver is gd with lr = exp(loglr) from w0.
/// ∇L_in = (A + λI) w − c with A = XᵀX/n, c = Xᵀy/n, so θ*(λ) = (A + λI)⁻¹ c.
struct RidgeModel {
  static let n = 12, nv = 10, d = 4
  let X: [[Double]], y: [Double], Xv: [[Double]], yv: [Double]
  let A: [[Double]]
  let c: [Double]
  /// The program's initial φ.
  let phi0: [Double] = [-2.5, -0.5, 0.4, -0.3, 0.2, 0.1]

  init() {
    var r = TestRandom(seed: TestRandom.seed("RidgeModel"))
    X = (0..<Self.n).map { _ in r.normals(Self.d) }
    y = r.normals(Self.n)
    Xv = (0..<Self.nv).map { _ in r.normals(Self.d) }
    yv = r.normals(Self.nv)
    let xt = PlainAlgebra.transpose(X)
    A = PlainAlgebra.multiply(xt, X).map { $0.map { $0 / Double(Self.n) } }
    c = PlainAlgebra.multiply(xt, y).map { $0 / Double(Self.n) }
  }

  /// The program, with `steps` gd steps (many for the implicit methods).
  func text(steps: Int) -> String {
    """
    dim n = \(Self.n), nv = \(Self.nv), d = \(Self.d)
    data X = \(SolverFixtures.literal(rows: X))
    data y = \(SolverFixtures.literal(y))
    data Xv = \(SolverFixtures.literal(rows: Xv))
    data yv = \(SolverFixtures.literal(yv))
    outer loglr: scalar = \(phi0[0])
    outer loglam: scalar = \(phi0[1])
    outer w0: vector[d] = \(SolverFixtures.literal(Array(phi0[2...])))
    inner w: vector[d] = w0
    inner loss = 0.5 * mean((X @ w - y)^2) + 0.5 * exp(loglam) * sum(w^2)
    outer loss = 0.5 * mean((Xv @ w - yv)^2) + 0.05 * sum((w0 - 0.3)^2)
    solve inner with gd(lr: exp(loglr), steps: \(steps))
    hypergradient with unroll(reverse)
    solve outer with gd(lr: 0.1, steps: 1)
    """
  }

  func lambda(_ phi: [Double]) -> Double { exp(phi[1]) }
  func start(_ phi: [Double]) -> [Double] { Array(phi[2...]) }

  func innerLoss(_ w: [Double], _ phi: [Double]) -> Double {
    let r = zip(PlainAlgebra.multiply(X, w), y).map { $0 - $1 }
    return 0.5 * Dense.dot(r, r) / Double(Self.n) + 0.5 * lambda(phi) * Dense.dot(w, w)
  }

  func innerGradient(_ w: [Double], _ phi: [Double]) -> [Double] {
    let aw = PlainAlgebra.multiply(A, w)
    return (0..<Self.d).map { aw[$0] + lambda(phi) * w[$0] - c[$0] }
  }

  func outerLoss(_ w: [Double], _ phi: [Double]) -> Double {
    let r = zip(PlainAlgebra.multiply(Xv, w), yv).map { $0 - $1 }
    let w0 = start(phi)
    return 0.5 * Dense.dot(r, r) / Double(Self.nv) + 0.05
      * w0.reduce(0) { $0 + ($1 - 0.3) * ($1 - 0.3) }
  }

  /// ∂L_out/∂w.
  func outerGradientTheta(_ w: [Double]) -> [Double] {
    let r = zip(PlainAlgebra.multiply(Xv, w), yv).map { $0 - $1 }
    return PlainAlgebra.multiply(PlainAlgebra.transpose(Xv), r).map { $0 / Double(Self.nv) }
  }

  /// ∂L_out/∂φ (explicit part): only w0's penalty.
  func outerGradientPhi(_ phi: [Double]) -> [Double] {
    [0, 0] + start(phi).map { 0.1 * ($0 - 0.3) }
  }

  /// Gradient-descent steps k in `range` from w, with φ's learning rate and λ.
  func steps(_ range: Range<Int>, from w: [Double], _ phi: [Double]) -> [Double] {
    var w = w
    let lr = exp(phi[0])
    for _ in range {
      let g = innerGradient(w, phi)
      for i in w.indices { w[i] -= lr * g[i] }
    }
    return w
  }

  func unrolled(_ phi: [Double], steps T: Int) -> [Double] { steps(0..<T, from: start(phi), phi) }

  /// d(L_out(θ_T(φ), φ))/dφ by forward mode written by hand: the tangent
  /// Z = dw/dφ (d × m) obeys Z ← Z − η (H Z + ∂∇L_in/∂φ) − (∂η/∂φ) ∇L_in.
  func unrolledGradient(_ phi: [Double], steps T: Int) -> [Double] {
    let d = Self.d, m = phi.count
    let lr = exp(phi[0]), lam = lambda(phi)
    var w = start(phi)
    // Z[i][j] = ∂w_i/∂φ_j; w0 enters as the identity block.
    var z = (0..<d).map { i in (0..<m).map { j in j == 2 + i ? 1.0 : 0.0 } }
    for _ in 0..<T {
      let g = innerGradient(w, phi)
      let hz = PlainAlgebra.add(PlainAlgebra.multiply(A, z), z, scale: lam)
      for i in 0..<d {
        for j in 0..<m {
          var dg = hz[i][j]
          if j == 1 { dg += lam * w[i] }  // ∂(λ w)/∂loglam
          z[i][j] -= lr * dg + (j == 0 ? lr * g[i] : 0)
        }
      }
      for i in 0..<d { w[i] -= lr * g[i] }
    }
    let v = outerGradientTheta(w)
    let explicit = outerGradientPhi(phi)
    return (0..<m).map { j in explicit[j] + (0..<d).reduce(0) { $0 + v[$1] * z[$1][j] } }
  }

  /// θ*(λ) = (A + λI)⁻¹ c.
  func solution(_ phi: [Double]) -> [Double] {
    PlainAlgebra.solve(PlainAlgebra.add(A, PlainAlgebra.identity(Self.d), scale: lambda(phi)), c)
  }

  /// The implicit hypergradient by the formula: dθ*/dloglam = −λ (A + λI)⁻¹ θ*.
  func solutionGradient(_ phi: [Double]) -> [Double] {
    let lam = lambda(phi)
    let h = PlainAlgebra.add(A, PlainAlgebra.identity(Self.d), scale: lam)
    let theta = PlainAlgebra.solve(h, c)
    let dtheta = PlainAlgebra.solve(h, theta).map { -lam * $0 }
    var g = outerGradientPhi(phi)
    g[1] += Dense.dot(outerGradientTheta(theta), dtheta)
    return g
  }
}
