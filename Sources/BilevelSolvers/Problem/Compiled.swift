import BilevelCore
import BilevelFrontEnd

/// The names of a compiled function's arguments and results. Each case's
/// raw value is its slot, so the case order is the one place the order of
/// the vectors is stated.
public protocol FunctionSignature {
  associatedtype Argument: RawRepresentable<Int>, CaseIterable
  associatedtype Result: RawRepresentable<Int>, CaseIterable
}

/// A compiled function whose arguments and results are named by its
/// signature: `f.load(.theta, x)` compiles only when the function has a θ.
/// A thin view of the untyped function (the names are its slot numbers), so
/// the solvers' loops stay as free of allocation as with raw slots.
public struct Compiled<Signature: FunctionSignature>: Sendable {
  public let function: CompiledFunction

  /// Builds the plan of every result (for `task`, when they vary by task)
  /// with the leaves of each argument and the roots of each result given by
  /// name; `arguments` and `results` are asked in the signature's order.
  public init(
    _ program: Program, constants: ConstantPool? = nil, task: Int?,
    arguments: (Signature.Argument) -> LeafLayout,
    results: (Signature.Result) -> [NodeID]
  ) {
    precondition(
      Signature.Argument.allCases.map(\.rawValue) == Array(0..<Signature.Argument.allCases.count)
        && Signature.Result.allCases.map(\.rawValue) == Array(0..<Signature.Result.allCases.count),
      "\(Signature.self): slots must number the cases in order from 0")
    function = CompiledFunction(
      program, arguments: Signature.Argument.allCases.map(arguments),
      results: Signature.Result.allCases.map(results), task: task, constants: constants)
  }

  public var plan: Plan { function.plan }

  @inlinable public func load(_ argument: Signature.Argument, _ values: UnsafePointer<Double>) {
    function.load(argument.rawValue, values)
  }

  @inlinable public func load(_ argument: Signature.Argument, _ values: [Double]) {
    function.load(argument.rawValue, values)
  }

  @inlinable public func run() { function.run() }

  /// Reruns instruction by instruction to find where a non-finite value starts.
  public func locateFault() -> NumericFault? { function.locateFault() }

  @inlinable public func store(
    _ result: Signature.Result, into values: UnsafeMutablePointer<Double>
  ) {
    function.store(result.rawValue, into: values)
  }

  @inlinable public func store(_ result: Signature.Result, into values: inout [Double]) {
    function.store(result.rawValue, into: &values)
  }

  /// Adds the result to `values` (accumulating contributions).
  @inlinable public func accumulate(
    _ result: Signature.Result, into values: inout [Double], scale: Double = 1
  ) {
    function.accumulate(result.rawValue, into: &values, scale: scale)
  }

  @inlinable public func result(_ result: Signature.Result) -> [Double] {
    function.result(result.rawValue)
  }

  /// The first entry of a result (for scalar results such as losses).
  @inlinable public func scalar(_ result: Signature.Result) -> Double {
    function.scalar(result.rawValue)
  }

  /// Loads every argument, runs, and returns the results: the convenient,
  /// allocating form, e.g. `f([.theta: theta, .phi: phi])[.gradient]`.
  public func callAsFunction(
    _ arguments: KeyValuePairs<Signature.Argument, [Double]>
  ) -> CompiledResults<Signature> {
    let expected = Signature.Argument.allCases.map(\.rawValue)
    precondition(
      arguments.map(\.key.rawValue).sorted() == expected,
      "\(Signature.self) takes each of \(Signature.Argument.allCases) once")
    for (argument, values) in arguments { load(argument, values) }
    run()
    return CompiledResults(values: function.resultSizes.indices.map(function.result))
  }
}

/// Every result of one call of a compiled function, read by name.
public struct CompiledResults<Signature: FunctionSignature>: Sendable {
  let values: [[Double]]
  public subscript(_ result: Signature.Result) -> [Double] { values[result.rawValue] }
}
