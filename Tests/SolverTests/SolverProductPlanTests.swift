import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation
import TestSupport
import Testing

/// Every sample's losses and the derivative products its solvers run
/// (SolverProducts) through the plan and the interpreter, against the
/// reference evaluator.
@Suite struct SolverProductPlanTests {
  static let samples = PackagePaths.files(under: PackagePaths.samples, withExtension: "blv")
    .filter { !$0.contains("/errors/") }.map {
      String($0.dropFirst(PackagePaths.samples.count + 1))
    }

  static func compile(_ relative: String) throws -> Program {
    let path = PackagePaths.samples + "/" + relative
    let directory = (path as NSString).deletingLastPathComponent
    let file = SourceFile(
      path: path, bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
    let (source, syntax) = Parser.parse(file)
    #expect(syntax.isEmpty)
    var options = CompileOptions()
    options.readFile = { p in
      FileManager.default.contents(atPath: p.hasPrefix("/") ? p : directory + "/" + p).map {
        [UInt8]($0)
      }
    }
    let (program, diagnostics) = MethodDiagnostics.elaborate(source, options: options)
    return try #require(program, "\(diagnostics.map(\.message))")
  }

  @Test(arguments: samples)
  func planMatchesTheReferenceEvaluator(_ relative: String) throws {
    let program = try Self.compile(relative).simplified().program
    let derived = SolverProducts(program)
    let p = derived.program
    let roots =
      [p.innerLoss, p.innerFixpoint?.map, p.outerLoss].compactMap { $0 }
      + derived.products.flatMap(\.roots)
    let leaves = derived.leavesAtInitialPoint(seed: 100)
    let tasks = p.tasks.map { [0, $0.count - 1] } ?? [nil]
    for task in tasks {
      let plan = PlanBuilder.build(p, roots: roots, task: task)
      try plan.verify()
      let got = plan.evaluate(leaves)
      let expected = ReferenceEvaluator.evaluate(
        p.graph, roots: roots, leaves: leaves, taskCount: p.tasks?.count ?? 1, task: task)
      for (k, (g, e)) in zip(got, expected).enumerated() {
        #expect(
          Tensor.closeForPlanTests(g, e),
          "\(relative) task \(task ?? -1) root \(k): \(g.scalars.prefix(4)) vs \(e.scalars.prefix(4))"
        )
      }
      // Running again gives the same bits: nothing depends on stale arena contents.
      plan.run()
      for k in roots.indices { #expect(plan.read(k) == got[k]) }
      #expect(plan.statistics.work <= plan.statistics.withoutReuse)
      #expect(plan.statistics.work >= plan.statistics.maximumLive)
    }
  }

}
