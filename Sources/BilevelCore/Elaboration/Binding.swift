import BilevelFrontEnd

/// What a name means while elaborating.
enum Binding {
  case dim(Int)
  case data(Int)
  case variable(Int)
  case letNode(NodeID, perTask: Bool)
  case function(FunctionDefinition)
  /// A minibatch stream (an index into `Program.batches`): selects rows of data.
  case batch(Int)
  /// One part of an episode stream (an index into `Program.episodes`).
  case episode(Int, query: Bool)
  /// A function parameter during inlining.
  case value(Value)
  /// A `rule` solver's state: readable only in the rule's update and the states' next values.
  case ruleState(Int)
  /// Its definition had an error that was already reported; uses stay quiet.
  case poisoned
}

struct FunctionDefinition {
  let name: String
  let parameters: [Identifier]
  let body: Expr
  /// Names visible where the function was defined (lexical scope).
  let scope: [String: Binding]
}

/// An elaborated expression: a node, and whether it varies from task to task.
struct Value {
  let node: NodeID
  let perTask: Bool
}

/// Thrown after a diagnostic is recorded, to abandon the current statement.
struct Poisoned: Error {}
