import BilevelCore
import BilevelSolvers

/// `--resume FILE.json`: the point, step, outer-optimiser state and a warm
/// start's carried inner state a saved run ended at, checked against the
/// program it continues.
enum ResumeFile {
  struct Failure: Error { let message: String }

  static func load(
    _ bytes: [UInt8], path: String, problem: BilevelProblem
  ) throws(Failure) -> BilevelRun.ResumePoint {
    func fail(_ why: String) -> Failure { Failure(message: "cannot resume from \(path): \(why)") }
    let root: JSONValue
    do { root = try JSONReader.parse(bytes) } catch { throw fail("not JSON (\(error.message))") }
    guard root["schema_version"]?.intValue == RunRecords.schemaVersion,
      root["command"]?.stringValue == "solve"
    else {
      throw fail(
        "not a result of 'bilevelc FILE --json' with schema version \(RunRecords.schemaVersion)")
    }
    guard let state = root["resume"], state != .null else {
      throw fail("the run stopped at a fault; there is no good state to continue")
    }
    guard let step = state["step"]?.intValue, let optimizer = state["optimizer"],
      let name = optimizer["name"]?.stringValue,
      let count = optimizer["count"]?.intValue, let first = optimizer["first_moment"]?.doublesValue,
      let second = optimizer["second_moment"]?.doublesValue
    else { throw fail("its 'resume' state is incomplete") }
    let solver = problem.source.outerSolver?.name ?? "none"
    guard name == solver else {
      throw fail("it was run with the outer solver \(name), this program uses \(solver)")
    }
    let steps = problem.source.outerSolver?.spec.steps ?? 0
    guard step <= steps else {
      throw fail("it already took \(step) outer steps; this program's outer solver takes \(steps)")
    }
    guard first.count == second.count, first.isEmpty || first.count == problem.outerSize else {
      throw fail("its optimiser moments have the wrong size")
    }
    var phi: [Double] = []
    for v in problem.outerVariables {
      guard let t = root["outer_variables"]?[v.name],
        let shape = t["shape"]?.arrayValue?.compactMap(\.intValue),
        let values = t["values"]?.doublesValue
      else { throw fail("it has no values for the outer variable '\(v.name)'") }
      guard shape == RunRecords.dims(v.shape), values.count == v.shape.count else {
        throw fail(
          "its '\(v.name)' has shape \(shape), the program's is \(RunRecords.dims(v.shape))")
      }
      phi += values
    }
    let box = problem.outerBounds()
    let saved: (lower: [Double], upper: [Double])? = state["box"].flatMap {
      b -> (lower: [Double], upper: [Double])? in
      guard let lower = b["lower"]?.arrayValue, let upper = b["upper"]?.arrayValue else {
        return nil
      }
      return (lower.map { $0.doubleValue ?? -.infinity }, upper.map { $0.doubleValue ?? .infinity })
    }
    guard saved?.lower == box?.lower && saved?.upper == box?.upper else {
      throw fail("it ran in another box than this program's bounds give")
    }
    var inner: CarriedState? = nil
    if let carried = state["inner"], carried != .null {
      guard let taken = carried["steps_taken"]?.intValue,
        let states = carried["states"]?.arrayValue?.compactMap(\.doublesValue),
        states.count == problem.tasks,
        states.allSatisfy({ $0.count == problem.stateSize })
      else { throw fail("its carried inner state does not fit this program's inner variables") }
      inner = CarriedState(states: states, stepsTaken: taken)
      if let counts = carried["task_steps_taken"] {
        guard let steps = counts.arrayValue?.compactMap(\.intValue), steps.count == problem.tasks
        else { throw fail("its carried inner step counts do not fit this program's tasks") }
        inner = CarriedState(states: states, taskSteps: steps)
      }
    } else if problem.startsWarm && step > 0 {
      throw fail("it has no carried inner state, and this program's inner solver starts warm")
    }
    return BilevelRun.ResumePoint(
      step: step, phi: phi,
      optimizer: OuterOptimizer.State(count: count, first: first, second: second), inner: inner)
  }
}
