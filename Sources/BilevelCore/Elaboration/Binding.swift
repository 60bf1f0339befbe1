import BilevelFrontEnd

/// What a name means while elaborating.
enum Binding {
  case dim(Int)
  case data(Int)
  case variable(Int)
  case letNode(NodeID, perTask: Bool)
  case function(FunctionDefinition)
  /// A function parameter during inlining.
  case value(Value)
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

/// Where an expression is being elaborated.
enum Context: Equatable {
  /// Losses, lets, initial values, solver settings.
  case model
  /// A data definition: evaluated now, in a scratch graph.
  case data(String)
}

/// How the task index is bound.
enum TaskMode: Equatable {
  case none
  /// A per-task template: per-task names refer to "the current task".
  case template
  /// Data for one task (0-based): the index is a number.
  case concrete(Int)
}
