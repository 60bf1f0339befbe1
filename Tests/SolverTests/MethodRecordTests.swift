import BilevelCore
import BilevelFrontEnd
import TestSupport
import Testing

@testable import BilevelSolvers

/// The solver and method layer's tables: every catalogue entry binds to its
/// typed spec, every method has a record that explain, check and the
/// compile-time check read, and a method that does not apply is an error.
@Suite struct MethodRecordTests {
  static func compile(_ text: String) -> (program: Program?, diagnostics: [Diagnostic]) {
    TestPrograms.compile(text) { MethodDiagnostics.elaborate($0) }
  }

  static let header = TestPrograms.ridgeHeader

  @Test func closedFormOnANonQuadraticLossIsAnErrorAtTheTerm() {
    let (program, ds) = Self.compile(
      Self.header + """
        inner loss = sum((X @ w - y)^2) + sum(exp(w))
        outer loss = sum(w^2) + lam
        solve inner with gd(lr: 0.1, steps: 10)
        hypergradient with closed_form
        solve outer with gd(lr: 0.1, steps: 3)
        """)
    let errors = ds.filter { $0.severity == .error }
    #expect(program == nil)
    #expect(errors.count == 1)
    #expect(errors.first?.message.contains("this term is not: exp(w)") == true)
    #expect(errors.first?.range?.text == "exp(w)")
  }

  /// closed_form needs no inner solver, and without one its applicability was not checked at all.
  @Test func closedFormIsCheckedWithoutAnInnerSolver() {
    let (program, ds) = Self.compile(
      Self.header + """
        inner loss = sum((X @ w - y)^2) + lam * sum(w^4)
        outer loss = sum(w^2) + lam
        hypergradient with closed_form
        solve outer with gd(lr: 0.1, steps: 3)
        """)
    #expect(program == nil)
    #expect(
      ds.contains { $0.severity == .error && $0.message.contains("this term is not: w^4") },
      "\(ds.map(\.message))")
  }

  @Test func aMethodThatDoesNotApplyIsAnErrorAtItsStatement() {
    let (program, ds) = Self.compile(
      Self.header + """
        inner loss = sum((X @ w - y)^2) + exp(lam) * sum(w^2)
        outer loss = sum(w^2)
        solve inner with newton(tol: 1e-10)
        hypergradient with unroll(reverse)
        solve outer with gd(lr: 0.1, steps: 3)
        """)
    #expect(program == nil)
    let error = ds.first { $0.severity == .error }
    #expect(
      error?.message.hasPrefix(
        "unroll(reverse) does not apply: it differentiates through a fixed number of inner steps, but 'newton'"
      ) == true)
    #expect(error?.range?.text.hasPrefix("unroll(reverse)") == true)
  }

  /// Each inner solver, outer solver and method of the catalogue binds to a
  /// spec of its own kind, with every default from the catalogue.
  @Test(arguments: SolverCatalogue.all.map(\.name).indices)
  func everyCatalogueEntryBinds(_ index: Int) throws {
    let schema = SolverCatalogue.all[index]
    var settings: [(name: String, value: BoundValue<Int>)] = []
    for s in schema.settings {
      let value: BoundValue<Int>
      switch s.kind {
      case .choice(let options): value = .symbol(s.defaultChoice ?? options[0])
      case .count: value = .integer(Int(s.defaultValue ?? 3))
      case .real: value = .real(s.defaultValue ?? 0.5)
      case .expression, .update: value = .expression(7)
      }
      if !settings.contains(where: { $0.name == s.name }) { settings.append((s.name, value)) }
    }
    let values = SettingValues(schema: schema, values: settings)
    switch schema.kind {
    case .inner(let kind):
      let spec = InnerSolverSpec<Int>(kind, values)
      #expect(spec.kind == kind)
      #expect(spec.expressions.allSatisfy { $0 == 7 })
    case .outer(let kind): #expect(OuterSolverSpec(kind, values).kind == kind)
    case .method(let kind):
      switch MethodChoice(kind, values) {
      case .method(let m):
        #expect(m.kind == kind)
        #expect(
          !m.record.cost(ProblemSizes(try SolverFixtures.program(RidgeProgram.text))).label.isEmpty)
      case .auto: #expect(kind == .auto)
      }
    }
  }

  /// Every kind the specs switch over has its schema in the catalogue.
  @Test func everyKindHasASchema() {
    let kinds: [SolverKind] =
      InnerSolverKind.allCases.map { .inner($0) } + OuterSolverKind.allCases.map { .outer($0) }
      + MethodKind.allCases.map { .method($0) }
    for kind in kinds {
      #expect(SolverCatalogue.all.contains { $0.kind == kind }, "no schema for \(kind.name)")
    }
    #expect(SolverCatalogue.all.count == kinds.count)
  }

  /// explain's table lists every method kind but auto, each costed by its record.
  @Test func theTableHasEveryMethod() throws {
    let sizes = ProblemSizes(try SolverFixtures.program(RidgeProgram.text))
    let kinds = Set(MethodTable.rows(sizes, costing: nil).map(\.kind))
    #expect(kinds == Set(MethodKind.allCases.filter { $0 != .auto }))
  }
}

/// A small ridge program every method applies to.
enum RidgeProgram {
  static let text =
    TestPrograms.ridgeHeader + """
      inner loss = sum((X @ w - y)^2) + exp(lam) * sum(w^2)
      outer loss = sum((X @ w - y)^2)
      solve inner with gd(lr: 0.01, steps: 10)
      hypergradient with unroll(reverse)
      solve outer with gd(lr: 0.1, steps: 3)
      """
}
