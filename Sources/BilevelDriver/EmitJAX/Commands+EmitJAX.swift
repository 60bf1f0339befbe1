import BilevelCore
import BilevelFrontEnd
import BilevelSolvers

extension Commands {
  /// `--emit jax`: the module on standard output, or a located refusal (exit 1).
  func emitJAX(_ program: Program, title: String) -> Int32 {
    let method = MethodSelection(BilevelProblem(program), budgetMB: options.budgetMB).method
    var writer = JAXModuleWriter(
      program: program, method: method, title: title,
      header: Explanation.header(program, title: title))
    do {
      out(try writer.write())
      return 0
    } catch {
      environment.standardError(
        DiagnosticRenderer.render([
          .error(Message(error.message), at: error.range ?? program.hypergradient?.range)
        ]))
      return 1
    }
  }
}
