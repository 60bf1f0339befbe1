// MARK: Names
extension Message {
  public static func undefinedName(_ name: String, hint: String) -> Message {
    Message("undefined name '\(name)'\(hint)")
  }
  public static func undefinedFunction(_ name: String, hint: String) -> Message {
    Message("unknown function '\(name)'\(hint)")
  }
  public static func usedBeforeDefinition(_ name: String, line: Int) -> Message {
    Message("'\(name)' is used before its definition on line \(line)")
  }
  public static func duplicateDefinition(_ name: String) -> Message {
    Message("'\(name)' is already defined")
  }
  public static let previousDefinition = Message("previous definition is here")
  public static func shadowsBuiltin(_ name: String) -> Message {
    Message("'\(name)' is a built-in function and cannot be redefined")
  }
  public static func functionUsedAsValue(_ name: String) -> Message {
    Message("'\(name)' is a function; call it, as in '\(name)(x)'")
  }
  public static func notAFunction(_ name: String, _ what: String) -> Message {
    Message("'\(name)' is \(what), not a function; to multiply, write '\(name) * (...)'")
  }
  public static func recursiveFunction(_ name: String) -> Message {
    Message("function '\(name)' cannot call itself; definitions are inlined")
  }
  public static func inCallTo(_ name: String) -> Message { Message("in this call to '\(name)'") }
  public static let callsTooDeep = Message("function calls are nested too deeply")
  public static func tooManyInlinedCalls(_ limit: Int) -> Message {
    Message(
      "this statement expands to more than \(limit) function calls; definitions are inlined at every call"
    )
  }
  public static func argumentCount(_ name: String, expected: String, got: Int) -> Message {
    Message("'\(name)' takes \(expected), given \(got)")
  }
  public static func unknownArgumentLabel(
    _ label: String, function: String, hint: String
  ) -> Message {
    Message("'\(function)' has no setting '\(label)'\(hint)")
  }
  public static func labeledArgumentToDef(_ name: String) -> Message {
    Message("arguments of '\(name)' are positional; remove the label")
  }
}

// MARK: Tasks
extension Message {
  public static let duplicateTasks = Message(
    "'tasks' is already declared; a program has one task range")
  public static let tasksStartAtOne = Message("task ranges start at 1, as in 'tasks t in 1..5'")
  public static func taskIndexMismatch(_ given: String, declared: String) -> Message {
    Message("the task index is '\(declared)' (from 'tasks \(declared) in ...'), not '\(given)'")
  }
  public static let noTasksDeclared = Message(
    "per-task definitions need a 'tasks t in 1..M' statement first")
  public static func perTaskNeedsIndex(_ name: String, _ t: String) -> Message {
    Message("'\(name)' has one value per task; write '\(name)[\(t)]'")
  }
  public static func taskIndexOutsideTasks(_ t: String) -> Message {
    Message(
      "'\(t)' is only defined inside per-task definitions (such as 'inner loss[\(t)] = ...') and inside 'mean over \(t): ...'"
    )
  }
  public static func notPerTask(_ name: String) -> Message {
    Message("'\(name)' is not defined per task, so it cannot be indexed by the task")
  }
  public static let nestedOver = Message("'over' reductions cannot be nested")
  public static func overReduction(_ name: String) -> Message {
    Message("'\(name) over' is not a reduction over tasks; use 'mean over' or 'sum over'")
  }
  public static func perTaskInGlobal(_ what: String) -> Message {
    Message("\(what) uses per-task values; declare it per task or reduce with 'mean over t: ...'")
  }
}

// MARK: Shapes and values
extension Message {
  public static func shapeMismatch(_ detail: String) -> Message { Message(detail) }
  public static func typeMismatch(_ what: String, declared: String, actual: String) -> Message {
    Message("\(what) is declared \(declared) but its value is \(actual)")
  }
  public static func reportNotScalar(_ name: String, _ shape: String) -> Message {
    Message("report '\(name)' must be a scalar, not \(shape); reduce it (mean, sum, norm, max)")
  }
  public static func notDifferentiable(_ function: String, in what: String) -> Message {
    Message(
      "\(function) is not differentiable (its value jumps between whole numbers), so \(what) cannot use it; use it in a report or in data"
    )
  }
  public static func axisOfTwoArguments(_ function: String) -> Message {
    Message(
      "\(function)(a, b) is entrywise and takes no axis; write \(function)(X, axis: ...) to reduce one array"
    )
  }
  public static func lossNotScalar(_ which: String, _ shape: String) -> Message {
    Message(
      "the \(which) must be a scalar, but this is \(shape); reduce it with sum(...) or mean(...)")
  }
  public static func fixpointShape(_ name: String, variable: String, map: String) -> Message {
    Message("fixpoint map for '\(name)' has shape \(map), but '\(name)' is \(variable)")
  }
  public static func notCompileTime(_ what: String) -> Message {
    Message("\(what) must be known at compile time (numbers, dims and data only)")
  }
  public static func notAnInteger(_ what: String, _ value: String) -> Message {
    Message("\(what) must be a whole number, not \(value)")
  }
  public static func notPositive(_ what: String, _ value: String) -> Message {
    Message("\(what) must be positive, not \(value)")
  }
  public static func settingOutOfRange(_ what: String, _ value: String, range: String) -> Message {
    Message("\(what) must be \(range), not \(value)")
  }
  public static func numberTooLarge(_ what: String, _ value: String, limit: String) -> Message {
    Message("\(what) is \(value), more than the limit of \(limit)")
  }
  public static func tooLarge(_ what: String, _ count: String, limit: String) -> Message {
    Message("\(what) has \(count) entries, more than the limit of \(limit)")
  }
  public static func indexOutOfRange(_ index: Int, size: Int, axis: String) -> Message {
    Message(
      "index \(index) is out of range for \(axis) of size \(size) (indices run from 1 to \(size))")
  }
  public static func emptySlice(_ lower: Int, _ upper: Int) -> Message {
    Message("slice \(lower):\(upper) is empty; slices are inclusive, as in x[2:4]")
  }
  public static func tooManyIndices(_ shape: String, _ count: Int) -> Message {
    Message("\(shape) takes at most \(shape.hasPrefix("vector") ? 1 : 2) indices, given \(count)")
  }
  public static let scalarIndexed = Message("a scalar cannot be indexed")
  public static func raggedArray(_ expected: Int, _ got: Int) -> Message {
    Message("rows of a matrix literal must have equal lengths: expected \(expected), found \(got)")
  }
  public static let arrayTooDeep = Message(
    "array literals have at most two levels ([[1, 2], [3, 4]])")
  public static func stringNotValue(_ s: String) -> Message {
    Message("string \(s) is not a value; strings name files, as in csv(\(s))")
  }
  public static func dataOnlyFunction(_ name: String) -> Message {
    Message(
      "'\(name)(...)' loads or generates data at compile time; use it in a 'data' statement or an initial value"
    )
  }
  public static func dataUsesVariable(_ data: String, _ v: String) -> Message {
    Message(
      "data '\(data)' cannot use '\(v)': data are fixed before solving, so they may use only dims, data and functions"
    )
  }
  public static func initialUsesVariable(_ name: String, _ v: String, _ why: String) -> Message {
    Message("the initial value of '\(name)' cannot use '\(v)': \(why)")
  }
  public static func csvCountMismatch(
    _ path: String, label: String, expression: String, expected: Int, actual: Int
  ) -> Message {
    let said = expression == "\(expected)" ? expression : "\(expression) = \(expected)"
    return Message(
      "'\(path)' has \(actual) \(actual == 1 ? String(label.dropLast()) : label), but \(label): \(said)"
    )
  }
  /// A CSV file against the size a type or a use gives it (`needs` is `d = 30` or `30`).
  public static func csvDimMismatch(
    _ path: String, rows: Int, columns: Int, use: String, needs: String, axis: String, size: Int
  ) -> Message {
    let unit = size == 1 ? String(axis.dropLast()) : axis
    let c = columns == 1 ? "1 column" : "\(columns) columns"
    return Message(
      "'\(path)' has \(rows) row\(rows == 1 ? "" : "s") and \(c), but \(use) needs \(needs) \(unit)"
    )
  }
  public static func csvDimUse(_ declaredBy: String) -> Message {
    Message("used here with \(declaredBy)")
  }
  public static func needsSeed(_ name: String) -> Message {
    Message("'\(name)' needs a seed so every run draws the same numbers, as in \(name)(n, seed: 1)")
  }
  public static func axisValue(_ v: String) -> Message {
    Message("axis must be 'rows' or 'columns', not \(v)")
  }
  /// The old numbered form: numbers would clash with 1-based indexing.
  public static func axisNumbered(_ v: String, name: String?) -> Message {
    let fix = name.map { "; write 'axis: \($0)' (what 'axis: \(v)' meant)" } ?? ""
    return Message("axes are named, not numbered: 'rows' or 'columns'\(fix)")
  }
  public static func classLabelRange(_ v: String, classes: Int, base: Int) -> Message {
    let hint = base == 1 && v == "0" ? "; for 0-based labels write 'base: 0'" : ""
    return Message(
      "class label \(v) is out of range: labels run from \(base) to \(classes - 1 + base)\(hint)")
  }
  public static func labelBase(_ v: String) -> Message { Message("base must be 0 or 1, not \(v)") }
  /// A vector against a matrix pairs its entries with the matrix's columns, whatever the sizes.
  public static func vectorOrientation(
    vector: String, entries: Int, matrix: String, columns: Int, rows: Int
  ) -> Message {
    let rowHint =
      entries != rows ? "" : "; to pair entry i with row i write col(v) (a matrix[\(rows), 1])"
    return Message(
      "a \(vector) against a \(matrix) goes with its columns (entry j with column j), so it needs \(columns) entries\(rowHint)"
    )
  }
  public static func boundsOnInner(_ name: String) -> Message {
    Message("bounds apply to outer variables only; '\(name)' is an inner variable")
  }
  public static func boundsOrder(_ name: String) -> Message {
    Message("the lower bound of '\(name)' exceeds its upper bound")
  }
  public static func initialOutsideBounds(_ name: String) -> Message {
    Message(
      "the initial value of '\(name)' lies outside its bounds; it is projected before the first step"
    )
  }
}

// MARK: The bilevel structure
extension Message {
  public static func duplicateStatement(_ what: String) -> Message {
    Message("\(what) is already defined")
  }
  public static func missingStatement(_ what: String, example: String) -> Message {
    Message("the program has no \(what); add one, as in '\(example)'")
  }
  public static let lossAndFixpoint = Message(
    "the inner problem is either an 'inner loss' or an 'inner fixpoint', not both")
  public static func fixpointNeedsInnerVariable(_ name: String) -> Message {
    Message(
      "'\(name)' must be an inner variable declared before the fixpoint, as in 'inner \(name): vector[n] = 0'"
    )
  }
  public static func fixpointExtraVariable(_ name: String, _ z: String) -> Message {
    Message(
      "inner variable '\(name)' is not the fixpoint variable '\(z)'; a fixpoint inner problem has one inner variable"
    )
  }
  public static func innerVariableUnused(_ name: String) -> Message {
    Message(
      "inner variable '\(name)' does not appear in the inner loss, so the inner problem cannot determine it"
    )
  }
  public static func outerVariableUnused(_ name: String) -> Message {
    Message(
      "outer variable '\(name)' reaches neither loss nor the inner solver; its hypergradient is zero"
    )
  }
  public static let innerLossOverTrajectory = Message(
    "only the outer loss may be summed over the trajectory; the inner loss is what each step descends"
  )
  public static func trajectoryWeightsNotData(_ name: String) -> Message {
    Message(
      "the trajectory weights '\(name)' must name a data vector (one weight w_t per inner step)")
  }
  public static func trajectoryWeightsLength(_ name: String, count: Int, steps: Int) -> Message {
    Message(
      "the trajectory weights '\(name)' have \(count) entr\(count == 1 ? "y" : "ies"), but the inner solver takes \(steps) steps: one weight w_t per step"
    )
  }
  public static let outerLossIgnoresInner = Message(
    "the outer loss does not depend on any inner variable; the problem is single-level")
  public static let innerIgnoresOuter = Message(
    "the inner problem does not depend on any outer variable; the hypergradient is only ∂L_out/∂φ")
  public static let emptyProgram = Message(
    "the program states no bilevel problem: declare inner and outer variables, an inner loss, an outer loss and the solvers (see samples/quickstart.blv)"
  )
  public static func invisibleToMethod(_ name: String, method: String) -> Message {
    Message(
      "outer variable '\(name)' reaches the inner problem only through its solver settings or starting point; \(method) differentiates the inner solution, which depends on neither, so its hypergradient is zero (unroll(reverse) sees it)"
    )
  }
  public static let singleLevelMethod = Message(
    "a program without an inner problem has no hypergradient method to choose: the gradient of the outer loss is exact; remove this statement"
  )
  public static let noInnerVariables = Message(
    "the program has no inner variables; declare one, as in 'inner w: vector[d] = 0'")
  public static let noOuterVariables = Message(
    "the program has no outer variables; declare one, as in 'outer lam: scalar = 0'")
}

// MARK: Solvers and methods
extension Message {
  public static func unknownSolver(
    _ name: String, role: String, hint: String, options: [String]
  ) -> Message {
    Message(
      "unknown \(role) '\(name)'\(hint.isEmpty ? "; expected one of \(options.joined(separator: ", "))" : hint)"
    )
  }
  public static func wrongSolverRole(
    _ name: String, is actual: String, expected: String, options: [String]
  ) -> Message {
    func article(_ role: String) -> String {
      (role.first.map { "aeiou".contains($0) } ?? false) ? "an \(role)" : "a \(role)"
    }
    return Message(
      "'\(name)' is \(article(actual)), not \(article(expected)); expected one of \(options.joined(separator: ", "))"
    )
  }
  public static func tooManyPositional(_ solver: String, allowed: [String]) -> Message {
    allowed.isEmpty
      ? Message("'\(solver)' takes only labeled settings, as in \(solver)(name: value)")
      : Message(
        "'\(solver)' takes at most \(allowed.count) unlabeled setting\(allowed.count == 1 ? "" : "s") (\(allowed.joined(separator: ", ")))"
      )
  }
  public static func duplicateSetting(_ name: String, solver: String) -> Message {
    Message("setting '\(name)' of '\(solver)' is given twice")
  }
  public static func unknownChoice(
    _ v: String, setting: String, solver: String, options: [String], hint: String
  ) -> Message {
    Message(
      "'\(v)' is not a \(setting) of '\(solver)'\(hint.isEmpty ? "; expected one of \(options.joined(separator: ", "))" : hint)"
    )
  }
  public static func settingNeedsChoice(
    _ name: String, solver: String, choiceSetting: String, values: [String]
  ) -> Message {
    Message(
      "setting '\(name)' applies only to \(values.map { "\(solver)(\($0))" }.joined(separator: " and "))"
    )
  }
  public static func unknownSetting(
    _ name: String, solver: String, hint: String, options: [String]
  ) -> Message {
    let rest =
      hint.isEmpty
      ? (options.isEmpty
        ? "; it takes no settings" : "; its settings are \(options.joined(separator: ", "))") : hint
    return Message("'\(solver)' has no setting '\(name)'\(rest)")
  }
  public static func missingSetting(_ name: String, solver: String, example: String) -> Message {
    Message("'\(solver)' needs the setting '\(name)', as in \(example)")
  }
  public static func settingNotScalar(_ name: String, _ shape: String) -> Message {
    Message("setting '\(name)' must be a scalar, not \(shape)")
  }
  public static func settingShape(
    _ name: String, _ shape: String, _ variable: String, _ variableShape: String
  ) -> Message {
    Message(
      "setting '\(name)' is \(shape), but the inner variable '\(variable)' is \(variableShape); a per-entry '\(name)' must have the shape of every inner variable (or, with several, be a vector with one entry per entry of all of them in order)"
    )
  }
  public static func stateOutsideRule(_ name: String) -> Message {
    Message(
      "state '\(name)' is read only in the 'rule' solver's update and in the 'then' values of states"
    )
  }
  public static func stateShape(
    _ name: String, _ shape: String, _ variable: String, _ vshape: String, rows: Int
  ) -> Message {
    Message(
      "state '\(name)' is \(shape), but a rule's state is per coordinate of '\(variable)' (\(vshape)): \(vshape), or matrix[\(rows), k] with one row per coordinate"
    )
  }
  public static func stateTaskSuffix(_ name: String, _ variable: String, perTask: Bool) -> Message {
    Message(
      perTask
        ? "state '\(name)' needs the task suffix, as '\(variable)' has one: 'state \(name)[t]: ...'"
        : "state '\(name)' has a task suffix, but '\(variable)' is shared by the tasks"
    )
  }
  public static func stateNeedsRule(_ name: String) -> Message {
    Message(
      "state '\(name)' belongs to a 'rule' solver: declare it before 'solve inner with rule(update: ..., steps: T)'"
    )
  }
  public static var ruleNeedsOneInnerVariable: Message {
    Message(
      "'rule' updates one inner variable, declared before this statement: 'grad' in its update is that variable's gradient"
    )
  }
  public static func settingUsesVariable(_ name: String, _ v: String, _ why: String) -> Message {
    Message("setting '\(name)' cannot use '\(v)': \(why)")
  }
  public static func solverDoesNotFit(_ solver: String, _ why: String) -> Message {
    Message("'\(solver)' \(why)")
  }
  public static func stepsOrMaxSteps(_ solver: String, both: Bool) -> Message {
    both
      ? Message(
        "'\(solver)' takes 'steps' (exactly that many) or 'max_steps' with 'tol' (stop early), not both"
      )
      : Message(
        "'\(solver)' needs the setting 'steps', as in \(solver)(lr: 0.1, steps: 100) (or 'max_steps' with 'tol', to stop early)"
      )
  }
  public static func toleranceWithMaxSteps(_ solver: String) -> Message {
    Message(
      "'\(solver)' stops early only with both 'tol:' and 'max_steps:' (the most steps); for a fixed count write 'steps: T'"
    )
  }
  public static func warmStartWithoutSteps(_ method: String) -> Message {
    Message(
      "'\(method)' takes no inner steps, so there is no inner state to carry between outer steps; use 'start: cold' or a method that runs the inner solver (unroll, implicit(cg))"
    )
  }
  public static func warmStartFromOuter(_ inner: String, _ outer: String) -> Message {
    Message(
      "a warm-started inner variable '\(inner)' starts from a value that reads the outer variable '\(outer)'; with 'start: warm' only the first outer step uses it and the carried start is held constant, so give '\(inner)' an initial value of data and constants"
    )
  }
  public static func minimiserOnFixpoint(_ solver: String) -> Message {
    solverDoesNotFit(
      solver,
      "minimises an inner loss; an 'inner fixpoint' is solved with fixpoint(tol: 1e-10, max_steps: 100)"
    )
  }
  public static func fixpointOnLoss(_ solver: String) -> Message {
    solverDoesNotFit(
      solver, "solves an 'inner fixpoint'; minimise an inner loss with gd, momentum, adam or newton"
    )
  }
  public static func methodDoesNotApply(_ method: String, _ why: String) -> Message {
    Message("\(method) does not apply: \(why)")
  }
  public static func notQuadratic(_ variables: String, term: String) -> Message {
    Message("closed_form needs an inner loss quadratic in \(variables); this term is not: \(term)")
  }
  public static func linearInnerLoss(_ variables: String) -> Message {
    Message(
      "closed_form needs an inner loss quadratic in \(variables), but it is linear, so it has no minimiser"
    )
  }
}

// MARK: Data files
extension Message {
  public static func pathNotString(_ function: String) -> Message {
    Message("'\(function)' takes a file path in quotes, as in \(function)(\"data/x.\(function)\")")
  }
  public static func unreadableFile(_ path: String) -> Message {
    Message("cannot read '\(path)': no such file or not readable")
  }
  /// A data path outside what the command line allows (DataPaths in the driver says why).
  public static func dataPathRefused(_ path: String, _ reason: String) -> Message {
    Message("refusing to read '\(path)': \(reason)")
  }
  public static func badNPY(_ path: String, _ detail: String) -> Message {
    Message("cannot load '\(path)': \(detail)")
  }
  public static func whileLoading(_ name: String) -> Message {
    Message("while loading data '\(name)'")
  }
  public static let taskPathOutsideTasks = Message(
    "'{t}' in a path needs a per-task data statement, as in 'data xs[t] = csv(\"xs_{t}.csv\")'")
  public static func taskShapeDiffers(
    _ name: String, task: Int, shape: String, first: String
  ) -> Message {
    Message(
      "data '\(name)' for task \(task) is \(shape), but for task 1 it is \(first); every task's value needs the same shape"
    )
  }
  public static func negativeSeed(_ v: Int) -> Message {
    Message("a seed must be 0 or more, not \(v)")
  }
}

// MARK: REPL
extension Message {
  public static func notInREPL(_ what: String) -> Message {
    Message(
      "\(what) belongs in a program file; the REPL takes dim, data, let, def, inner and outer declarations and expressions"
    )
  }
  public static func letReadsVariables(_ name: String) -> Message {
    Message(
      "'\(name)' is a let that reads variables; a derivative with respect to a let treats a constant one as a variable (take it with respect to the variables it reads)"
    )
  }
  public static func notDifferentiable(_ name: String) -> Message {
    Message(
      "'\(name)' is not a data or variable name; derivatives are taken with respect to data and variables (define it with 'data \(name) = ...')"
    )
  }
  public static func directionShape(_ name: String, variable: String, direction: String) -> Message
  {
    Message("the direction for '\(name)' is \(direction), but '\(name)' is \(variable)")
  }
  public static func directionCount(_ variables: Int, _ directions: Int) -> Message {
    Message(
      "give one direction per variable: \(variables) variable\(variables == 1 ? "" : "s"), \(directions) direction\(directions == 1 ? "" : "s")"
    )
  }
  public static func gradientOfNonScalar(_ shape: String) -> Message {
    Message(
      "a gradient needs a scalar expression, not \(shape); use :jvp for a Jacobian-vector product")
  }
  public static func unknownREPLCommand(_ c: String) -> Message {
    Message("unknown command '\(c)'; type :help for the list")
  }
  public static func digitsArgument(_ found: String) -> Message {
    Message(
      "':digits' takes a count of significant digits from 1 to 17, or nothing for every digit a round trip needs; found '\(found)'"
    )
  }
  public static func commandNeedsFile(_ c: String) -> Message {
    Message("'\(c)' needs a file, as in \(c) model.blv")
  }
  public static func commandNeedsExpression(_ c: String) -> Message {
    Message("'\(c)' needs an expression, as in \(c) x + 1")
  }
}

// MARK: Minibatches
extension Message {
  public static let batchNeedsRows = Message(
    "a minibatch stream is 'rows(n, size: k, seed: s)', with per: inner_step or outer_step and replace: true or false"
  )
  public static func batchSetting(_ setting: String, _ allowed: String) -> Message {
    Message("'\(setting)' of a minibatch stream is \(allowed)")
  }
  public static func batchTooLarge(_ size: Int, _ rows: Int) -> Message {
    Message("a batch of \(size) rows without replacement needs at least \(size) rows, not \(rows)")
  }
  public static func batchUsedAsValue(_ name: String) -> Message {
    Message("'\(name)' is a minibatch stream; select rows of data with it, as in 'X[\(name), :]'")
  }
  public static func batchOfData(_ batch: String) -> Message {
    Message(
      "'\(batch)' selects rows of a data entry shared by all tasks, as in 'X[\(batch), :]' or 'y[\(batch)]'"
    )
  }
  public static func batchRowCount(
    _ name: String, rows: Int, batch: String, population: Int
  )
    -> Message
  {
    Message("'\(name)' has \(rows) rows but '\(batch)' draws from \(population)")
  }
  public static func batchColumns(_ batch: String) -> Message {
    Message("'\(batch)' selects whole rows: write 'X[\(batch), :]'")
  }
  public static func batchPerInnerStep(_ batch: String, _ solver: String) -> Message {
    Message(
      "'\(batch)' draws a batch per inner step, but the '\(solver)' inner solver does not take its steps one by one as gd, momentum, adam and rule do; write 'per: outer_step'"
    )
  }
  public static func batchInFixedValue(_ batch: String) -> Message {
    Message(
      "data, initial values and bounds are fixed before solving, so they cannot use the minibatch '\(batch)'"
    )
  }
}

// MARK: Episodes
extension Message {
  public static let episodesNeedClasses = Message(
    "episodes are 'classes(y, ways: N, shots: K, queries: Q, pool: P, seed: s)', with y a data vector of class numbers"
  )
  public static func episodeClasses(_ detail: String) -> Message { Message(detail) }
  public static func episodeSelection(_ name: String, _ t: String) -> Message {
    Message(
      "'\(name)' selects rows of data with as many rows as its labels, as in 'X[\(name)\(t), :]'")
  }
}
