/// What an expression is elaborated within. It is a value passed down to
/// each sub-expression, so a mode is stated where a sub-expression is
/// entered (a per-task template, a function body, a rule's update) and ends
/// with it: nothing has to be reset afterwards.
struct ElaborationContext {
  let place: Place
  let task: TaskMode
  /// Initial values and bounds are fixed before solving, so they may draw
  /// random numbers or load files, as data do.
  let allowsDataSources: Bool
  /// Names visible here: the file's so far, or inside a function its
  /// definition's names and its parameters.
  let names: [String: Binding]
  /// Functions being inlined, innermost last (recursion is an error).
  let callStack: [String]

  /// Model code (a loss, a let, an initial value, a solver setting) outside any task.
  static func model(_ names: [String: Binding]) -> ElaborationContext {
    ElaborationContext(
      place: .model, task: .none, allowsDataSources: false, names: names, callStack: [])
  }

  /// A data definition (for one task when `task` is concrete).
  static func data(_ name: String, task: TaskMode, names: [String: Binding]) -> ElaborationContext {
    ElaborationContext(
      place: .data(name), task: task, allowsDataSources: true, names: names, callStack: [])
  }

  func with(task: TaskMode) -> ElaborationContext {
    ElaborationContext(
      place: place, task: task, allowsDataSources: allowsDataSources, names: names,
      callStack: callStack)
  }

  func allowingDataSources() -> ElaborationContext {
    ElaborationContext(
      place: place, task: task, allowsDataSources: true, names: names, callStack: callStack)
  }

  /// The same context with one more name bound.
  func binding(_ name: String, to binding: Binding) -> ElaborationContext {
    var names = names
    names[name] = binding
    return ElaborationContext(
      place: place, task: task, allowsDataSources: allowsDataSources, names: names,
      callStack: callStack)
  }

  /// The body of `f` called with `arguments`: its lexical names and its
  /// parameters; the place and the task mode are the caller's.
  func inlining(_ f: FunctionDefinition, arguments: [Value]) -> ElaborationContext {
    var names = f.scope
    for (p, v) in zip(f.parameters, arguments) { names[p.name] = .value(v) }
    return ElaborationContext(
      place: place, task: task, allowsDataSources: allowsDataSources, names: names,
      callStack: callStack + [f.name])
  }

  /// The data entry being defined, for messages ("this expression" elsewhere).
  var placeName: String {
    if case .data(let n) = place { return n }
    return "this expression"
  }
}

/// Where an expression is being elaborated.
enum Place: Equatable {
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
