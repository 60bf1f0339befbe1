import BilevelFrontEnd
import TestSupport
import Testing

@testable import BilevelCore

/// Per-task data fold their constants as they elaborate and keep no recipe
/// unless asked (`--emit jax`): the values must not change by a bit.
@Suite struct DataFoldingTests {
  static let program = """
    tasks t in 1..7
    dim n = 4
    data amp[t] = 0.1 + 4.9 * rand(1, seed: 100 + t)[1]
    data xs[t] = -5 + 10 * rand(n, seed: 300 + t)
    data ys[t] = amp[t] * sin(xs[t] - 0.5) / (1 + exp(-xs[t]))
    data A[t] = randn(n, n, seed: t)' @ randn(n, n, seed: t) + 4 * eye(n)
    data z[t] = solve(A[t], xs[t]) + sum(A[t] ^ 2) * log(t)
    data g = randn(3, seed: 5) * 2
    outer W: vector[n] = 1
    inner V[t]: vector[n] = W
    inner loss[t] = sum((V[t] - z[t])^2) + sum((V[t] - W)^2)
    outer loss = mean over t: sum((V[t] - ys[t])^2) + sum(g^2)
    solve inner with gd(lr: 0.1, steps: 3)
    hypergradient with unroll(reverse)
    solve outer with gd(lr: 0.1, steps: 2)
    """

  static func compile(keepingRecipes: Bool) throws -> Program {
    var options = CompileOptions()
    options.keepsDataRecipes = keepingRecipes
    let (p, ds) = TestPrograms.compile(program) { Elaborator.elaborate($0, options: options) }
    #expect(ds.isEmpty, "\(ds.map(\.message))")
    return try #require(p)
  }

  @Test func foldedDataEqualEvaluatedDataBitForBit() throws {
    let folded = try Self.compile(keepingRecipes: false)
    let evaluated = try Self.compile(keepingRecipes: true)
    #expect(folded.data.count == evaluated.data.count)
    for (a, b) in zip(folded.data, evaluated.data) {
      #expect(a.values.count == b.values.count)
      for (x, y) in zip(a.values, b.values) {
        #expect(x.shape == y.shape)
        #expect(x.scalars.map(\.bitPattern) == y.scalars.map(\.bitPattern), "data \(a.name)")
      }
    }
  }

  @Test func recipesAreKeptOnlyWhenAsked() throws {
    let folded = try Self.compile(keepingRecipes: false)
    #expect(folded.data.allSatisfy { $0.recipes.isEmpty })
    let evaluated = try Self.compile(keepingRecipes: true)
    for entry in evaluated.data {
      #expect(entry.recipes.count == entry.values.count, "data \(entry.name)")
    }
  }

  @Test func foldingKeepsShapeErrorsLocated() throws {
    let (p, ds) = TestPrograms.compile(
      """
      tasks t in 1..3
      data a[t] = randn(3, seed: t) + randn(2, seed: t)
      """
    ) { Elaborator.elaborate($0) }
    #expect(p == nil)
    let d = try #require(ds.first)
    #expect(d.message.contains("3") && d.message.contains("2"), "\(d.message)")
    #expect(d.range?.text == "randn(3, seed: t) + randn(2, seed: t)")
  }
}

/// `data G = X' @ X` of a 400×300 X (7.2e7 flops): computed by the plan
/// kernels, as the plans' hoisted products are, and equal to the
/// reference evaluator's to rounding.
@Suite struct DataProductTests {
  @Test func aLargeDataProductRunsOnThePlanKernels() throws {
    let (p, ds) = TestPrograms.compile(
      """
      data X = randn(400, 300, seed: 1)
      data G = X' @ X
      outer a: scalar = 0
      outer loss = a^2 + sum(G) * 0
      solve outer with gd(lr: 0.1, steps: 1)
      """
    ) { Elaborator.elaborate($0) }
    #expect(!ds.contains { $0.severity == .error }, "\(ds.map(\.message))")
    let program = try #require(p)
    let x = program.data[0].values[0]
    let g = program.data[1].values[0]
    let product = Op.matmul(transposeLeft: true, transposeRight: false)
    let kernels = ConstantPool.evaluate(product, [x, x], shape: .matrix(300, 300))
    let reference = product.evaluateReference([x, x], shape: .matrix(300, 300))
    #expect(g.scalars.map(\.bitPattern) == kernels.scalars.map(\.bitPattern))
    let error = zip(g.scalars, reference.scalars).map { abs($0 - $1) }.max() ?? 0
    #expect(error < 1e-11 * 400, "largest difference \(error)")
  }
}
