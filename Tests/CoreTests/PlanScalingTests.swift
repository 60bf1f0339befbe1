import BilevelFrontEnd
import Testing

@testable import BilevelCore

/// Planning a long chain of lets costs work linear in its length, counted
/// (never timed): the derivative graphs' nodes and the memory planner's
/// steps per let stay flat as the chain doubles.
@Suite struct PlanScalingTests {
  /// The inner loss at the end of `lets` tanh lets, its gradient and its
  /// Hessian-vector product, planned together as `--emit plan` plans them.
  static func chain(lets: Int) throws -> (nodes: Int, buffers: Int, steps: Int) {
    var lines = ["inner w: vector[8] = 0", "outer a: scalar = 0", "let z0 = tanh(w + a)"]
    for k in 1..<lets { lines.append("let z\(k) = tanh(0.5 * z\(k - 1) + a * w)") }
    lines += [
      "inner loss = sum(z\(lets - 1)^2) + sum(w^2)", "outer loss = a^2",
      "solve inner with gd(lr: 0.1, steps: 2)", "solve outer with gd(lr: 0.1, steps: 1)",
    ]
    let (source, _) = Parser.parse(
      SourceFile(path: "chain.blv", text: lines.joined(separator: "\n") + "\n"))
    var program = try #require(Elaborator.elaborate(source).program).simplified().program
    let loss = try #require(program.innerLoss)
    let w = program.graph.make(.variable(0), shape: .vector(8))
    program.inputs.append(InputEntry(name: "v", shape: .vector(8), perTask: false))
    let v = program.graph.make(.input(0), shape: .vector(8))
    var d = Differentiator(program: program)
    let gradient = d.gradient(of: loss, wrt: [w])
    let hv = d.jacobianVectorProduct(of: gradient, wrt: [w], along: [v])
    program.graph = d.graph
    var builder = PlanBuilder(
      program: program, hoisting: .pool(ConstantPool(program)), roots: [loss] + gradient + hv,
      task: nil, tasks: 1)
    builder.collectInstances()
    let constants = builder.hoistConstants()
    let parameters = builder.placeParameters(excluding: constants)
    let schedule = builder.scheduleComputations(constants: constants, parameters: parameters)
    let work = builder.allocateWork(schedule)
    return (program.graph.count, work.buffers.count, work.placement.steps)
  }

  @Test func derivativesAndMemoryPlanningGrowLinearlyWithTheChain() throws {
    let small = try Self.chain(lets: 400)
    let large = try Self.chain(lets: 1600)
    // Four times the lets: four times the nodes and buffers, and (linear
    // planning) about four times the planner's steps; the quadratic scan
    // of mixed live and dead blocks took over 10× here.
    #expect(Double(large.nodes) / Double(small.nodes) < 4.4)
    #expect(Double(large.buffers) / Double(small.buffers) < 4.4)
    let perBuffer = (
      small: Double(small.steps) / Double(small.buffers),
      large: Double(large.steps) / Double(large.buffers)
    )
    #expect(perBuffer.large / perBuffer.small < 2.3, "planner steps per buffer: \(perBuffer)")
  }
}
