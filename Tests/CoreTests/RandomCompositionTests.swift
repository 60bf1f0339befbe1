import BilevelCore
import BilevelFrontEnd
import Foundation
import TestSupport
import Testing

/// The derivative battery on random compositions of every op family
/// (RandomTensorProgram): interactions between rules and rewrites.
@Suite struct RandomCompositionTests {
  /// BILEVELC_RANDOM_COMPOSITIONS=N runs more (a longer search for bugs).
  static let programCount =
    ProcessInfo.processInfo.environment["BILEVELC_RANDOM_COMPOSITIONS"].flatMap { Int($0) } ?? 200

  @Test func randomCompositionsPassTheBattery() throws {
    var checks = 0
    for k in 0..<Self.programCount {
      let program = RandomTensorProgram(seed: TestRandom.seed("composition", k), depth: 3 + k % 3)
      var rng = TestRandom(seed: TestRandom.seed("composition values", k))
      let bindings = program.inputs.map {
        ($0.name, Tensor(shape: $0.shape, scalars: rng.normals($0.shape.count)))
      }
      var h = try DerivativeHarness(
        statements: DerivativeHarness.dataStatements(bindings), expression: program.text,
        wrt: program.inputs.map(\.name), simplify: k % 3 != 1, unsafeMath: k % 3 == 2)
      var options = DerivativeBattery.Options()
      options.extrapolated = true
      let results = DerivativeBattery.run(
        &h, seed: TestRandom.seed("composition battery", k), options: options)
      for r in results where !r.passed { Issue.record("program \(k): \(program.text): \(r)") }
      checks += results.count
    }
    print("random compositions: \(checks) checks over \(Self.programCount) programs")
  }
}
