import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation
import TestSupport
import Testing

/// The row-block product (PlanFusion): Xᵀ f(X v) in one instruction that
/// reads X once, in the logistic gradient, Hessian-vector product and step.
@Suite struct RowBlockFusionTests {
  /// Logistic regression with a penalty per feature, one gd step unrolled.
  static func products(n: Int, d: Int) throws -> SolverProducts {
    let text = """
      dim n = \(n), d = \(d)
      data X = randn(n, d, seed: 2)
      data z = X @ randn(d, seed: 1) / sqrt(d) + 0.5 * randn(n, seed: 4)
      data y = z / abs(z)
      outer loglam: vector[d] = -4
      inner w: vector[d] = 0.1 * randn(d, seed: 7)
      inner loss = mean(logistic_loss(y * (X @ w))) + sum(exp(loglam) * w^2)
      outer loss = mean(logistic_loss(y * (X @ w)))
      solve inner with gd(lr: 0.5, steps: 20)
      hypergradient with implicit(cg, iters: 20, tol: 1e-10)
      solve outer with adam(lr: 0.1, steps: 10)
      """
    let (source, syntax) = Parser.parse(SourceFile(path: "<test>", bytes: Array(text.utf8)))
    #expect(syntax.isEmpty)
    let program = try #require(
      MethodDiagnostics.elaborate(source, options: CompileOptions()).program)
    return SolverProducts(program.simplified().program)
  }

  static func roots(_ p: SolverProducts, _ prefix: String) throws -> [NodeID] {
    try #require(p.products.first { $0.name.hasPrefix(prefix) }).roots
  }

  static let hessianVector = "Hessian-vector product"
  static let gradient = "gradient of the inner loss wrt w"
  static let step = "one gd step"

  @Test func theLogisticHessianVectorProductReadsXOnce() throws {
    let p = try Self.products(n: 300, d: 500)
    let plan = PlanBuilder.build(p.program, roots: try Self.roots(p, Self.hessianVector))
    let fused = plan.instructions.filter {
      if case .rowBlockProduct = $0.opcode { true } else { false }
    }
    #expect(fused.count == 1)
    #expect(fused.allSatisfy { $0.m == 300 && $0.k == 500 })
    // X θ and X v are computed in it: no product with X (300 × 500) is left.
    #expect(plan.rowBlockProducts.first?.rowValueCount == 2)
    #expect(
      !plan.instructions.contains {
        if case .matmul = $0.opcode { $0.k == 500 || $0.m == 500 } else { false }
      })
    let text = plan.dump(title: "t", outputNames: ["Hv"], leafName: p.program.leafName)
    #expect(text.contains("# fused: row-block-product ×1"))
    #expect(text.contains("row-block product"))
    let unfused = PlanBuilder.build(
      p.program, roots: try Self.roots(p, Self.hessianVector), fuseRowBlocks: false)
    #expect(unfused.rowBlockProducts.isEmpty)
  }

  @Test func theGradientAndTheStepFuseToo() throws {
    let p = try Self.products(n: 300, d: 500)
    for name in [Self.gradient, Self.step] {
      let plan = PlanBuilder.build(p.program, roots: try Self.roots(p, name))
      #expect(plan.rowBlockProducts.count == 1, "\(name)")
    }
    // Gradient and Hessian-vector product in one plan: both fuse, sharing X w.
    let both = PlanBuilder.build(
      p.program, roots: try Self.roots(p, Self.gradient) + Self.roots(p, Self.hessianVector))
    #expect(both.rowBlockProducts.count == 2)
    try both.verify()
  }

  /// One part (below GEMV's threshold): the unfused plan's bits; several
  /// parts: its result up to rounding. Both: the reference evaluator's.
  @Test(arguments: [(40, 30), (300, 500)])
  func theFusedPlanEqualsTheUnfusedOne(_ size: (Int, Int)) throws {
    let (n, d) = size
    let p = try Self.products(n: n, d: d)
    let leaves = p.leavesAtInitialPoint(seed: 5)
    for name in [Self.hessianVector, Self.gradient, Self.step] {
      let roots = try Self.roots(p, name)
      let fused = PlanBuilder.build(p.program, roots: roots)
      let unfused = PlanBuilder.build(p.program, roots: roots, fuseRowBlocks: false)
      #expect(!fused.rowBlockProducts.isEmpty && unfused.rowBlockProducts.isEmpty)
      try fused.verify()
      let got = fused.evaluate(leaves)
      let expected = unfused.evaluate(leaves)
      let reference = ReferenceEvaluator.evaluate(
        p.program.graph, roots: roots, leaves: leaves, taskCount: 1, task: nil)
      for k in roots.indices {
        if RowBlockProduct.parts(rows: n, columns: d) == 1 {
          #expect(got[k] == expected[k], "\(name) root \(k)")
        } else {
          let scale = expected[k].scalars.map(abs).max() ?? 1
          let difference = zip(got[k].scalars, expected[k].scalars).map { abs($0 - $1) }.max()!
          #expect(difference <= 1e-13 * scale, "\(name) root \(k): \(difference)")
        }
        #expect(Tensor.closeForPlanTests(got[k], reference[k]), "\(name) root \(k)")
      }
    }
  }

  /// w = u₀·u₁ (the context points to u₀; u₁ and w follow it in one buffer).
  static let product: RowWeightsFunction = { raw, lo, hi, _ in
    let u = raw.assumingMemoryBound(to: UnsafeMutablePointer<Double>.self).pointee
    let stride = RowBlockFusionTests.bufferStride
    for i in lo..<hi { u[2 * stride + i] = u[i] * u[stride + i] }
  }
  static let bufferStride = 100_000

  @Test(arguments: [(37, 29), (700, 301), (1000, 1000)])
  func theKernelGivesTheSameBitsOnOneAndTwoThreads(_ size: (Int, Int)) {
    let (m, n) = size
    let a = RandomStream.normal(shape: .matrix(m, n), seed: 3).scalars
    let x = RandomStream.normal(shape: .vector(2 * n), seed: 4).scalars
    let buffer = UnsafeMutablePointer<Double>.allocate(capacity: 3 * Self.bufferStride + 2 * n)
    defer { buffer.deallocate() }
    let xs = buffer + 3 * Self.bufferStride
    xs.update(from: x, count: 2 * n)
    // x₀, x₁, then u₀, u₁.
    let vectors = [xs, xs + n, buffer, buffer + Self.bufferStride]
    let workspace = [Double](
      repeating: 0, count: max(1, RowBlockProduct.workspaceSize(rows: m, columns: n)))
    func run(threads: Int?) -> [Double] {
      var y = [Double](repeating: .nan, count: n)
      var ws = workspace
      a.withUnsafeBufferPointer { a in
        vectors.withUnsafeBufferPointer { v in
          RowBlockProduct.multiply(
            rows: m, columns: n, a: a.baseAddress!, x: v.baseAddress!, u: v.baseAddress! + 2,
            count: 2, w: buffer + 2 * Self.bufferStride, y: &y, workspace: &ws,
            weights: Self.product,
            context: UnsafeRawPointer(v.baseAddress! + 2), threads: threads)
        }
      }
      return y
    }
    let one = run(threads: 1)
    let two = run(threads: nil)
    #expect(one == two)
    #expect(run(threads: nil) == two)
    // Against the separate products: uᵢ = A xᵢ by GEMV, then Aᵀ (u₀ u₁).
    var u0 = [Double](repeating: 0, count: m), u1 = u0
    var y = [Double](repeating: 0, count: n)
    GEMV.multiply(m: m, n: n, a: a, lda: n, x: xs, y: &u0, threads: 1)
    GEMV.multiply(m: m, n: n, a: a, lda: n, x: xs + n, y: &u1, threads: 1)
    let w = zip(u0, u1).map { $0 * $1 }
    GEMV.multiply(m: m, n: n, a: a, lda: n, transposeA: true, x: w, y: &y, threads: 1)
    #expect(Array(UnsafeBufferPointer(start: buffer, count: m)) == u0)
    #expect(Array(UnsafeBufferPointer(start: buffer + 2 * Self.bufferStride, count: m)) == w)
    if RowBlockProduct.parts(rows: m, columns: n) == 1 {
      #expect(one == y)
    } else {
      let scale = y.map(abs).max()!
      #expect(zip(one, y).allSatisfy { abs($0 - $1) <= 1e-13 * scale })
      #expect(one != y, "several parts sum in another order (else this test checks nothing)")
    }
  }

  /// The fused gradient and Hessian-vector product against central
  /// differences of the fused loss and gradient plans.
  @Test func fusedDerivativesPassFiniteDifferences() throws {
    let p = try Self.products(n: 300, d: 500)
    let leaves = p.leavesAtInitialPoint(seed: 9)
    let loss = PlanBuilder.build(p.program, roots: [try #require(p.program.innerLoss)])
    let gradient = PlanBuilder.build(p.program, roots: try Self.roots(p, Self.gradient))
    let hessianVector = PlanBuilder.build(p.program, roots: try Self.roots(p, Self.hessianVector))
    #expect(gradient.rowBlockProducts.count == 1 && hessianVector.rowBlockProducts.count == 1)
    let w = try #require(p.program.variables.firstIndex { $0.name == "w" })
    let theta = leaves.variable(w, nil).scalars
    let direction = try #require(
      hessianVector.parameters.first { if case .input = $0.leaf { true } else { false } })
    let v = RandomStream.normal(shape: .vector(500), seed: 11).scalars
    func at(_ plan: Plan, _ t: Double) -> [Double] {
      _ = plan.evaluate(leaves)
      plan.write(.variable(w), zip(theta, v).map { $0 + t * $1 })
      plan.run()
      return plan.read(0).scalars
    }
    let h = 1e-5
    let g = at(gradient, 0)
    let slope = (at(loss, h)[0] - at(loss, -h)[0]) / (2 * h)
    let gv = zip(g, v).reduce(0) { $0 + $1.0 * $1.1 }
    #expect(abs(slope - gv) <= 1e-6 * max(1, abs(gv)), "\(slope) vs \(gv)")
    _ = hessianVector.evaluate(leaves)
    hessianVector.write(direction.leaf, v)
    hessianVector.run()
    let hv = hessianVector.read(0).scalars
    let plus = at(gradient, h), minus = at(gradient, -h)
    let differences = zip(plus, minus).map { ($0 - $1) / (2 * h) }
    let scale = hv.map(abs).max()!
    #expect(zip(hv, differences).allSatisfy { abs($0 - $1) <= 1e-5 * scale })
  }
}
