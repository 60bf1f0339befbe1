import BilevelCore
import BilevelFrontEnd

/// The inner solver as Python: the same step maps as SolverGraphs.step
/// (gd, momentum, adam with bias corrections 1/(1 − βᵏ), a learned rule)
/// under `lax.scan`, or fixed-point iteration under `lax.while_loop` with
/// InnerSolver.fixpoint's stopping test.
enum JAXMethodBlocks {
  static func solver(_ p: Program, fileName: String) throws(JAXRefusal) -> String {
    guard let statement = p.innerSolver else { return "" }
    let (line, _) = statement.range.file.lineAndColumn(of: statement.range.start)
    let origin = "# \(fileName):\(line): solve inner with \(statement.name)"
    switch statement.spec {
    case .gd(_, let steps), .momentum(_, _, let steps), .adam(_, _, let steps), .rule(_, let steps):
      return fixedSteps(statement.spec, steps: steps, origin: origin, p) + residual(fixpoint: false)
    case .fixpoint(let tolerance, let maxSteps):
      let z = p.variables[p.innerFixpoint!.variable].name
      return """
        def solve_inner_task(phi, data):
            \"\"\"z <- E(z, phi) until ||E(z) - z|| <= \(JAXOpTable.number(tolerance)), at most \(maxSteps) steps.\"\"\"
            \(origin)
            def unfinished(c):
                return (c[1] < \(maxSteps)) & ~(c[2] <= \(JAXOpTable.number(tolerance)))

            def iterate(c):
                z, k, _ = c
                following = {\(py(z)): fixpoint_map(z, phi, data)}
                change = flat_inner(following) - flat_inner(z)
                return following, k + 1, jnp.sqrt(jnp.dot(change, change))

            z, k, _ = lax.while_loop(unfinished, iterate, (initial_inner(phi, data), 0, jnp.inf))
            return z, k


        def solve_inner(phi, data):
            \"\"\"Every task's z(phi), and the most steps a task took.\"\"\"
            theta, steps = over_tasks(lambda d: solve_inner_task(phi, d), data)
            return theta, task_max(steps)


        """ + residual(fixpoint: true)
    case .newton, .flow:
      throw JAXRefusal(
        message: "--emit jax does not emit the \(statement.name) inner solver",
        range: statement.range)
    }
  }

  static func fixedSteps(
    _ spec: InnerSolverSpec<NodeID>, steps: Int, origin: String, _ p: Program
  ) -> String {
    var s = "STEPS = \(steps)\n"
    let update: String
    var copies = 1
    switch spec {
    case .gd:
      update = """
            lr = inner_lr(phi, data)
            return (tmap(lambda x, gx: x - lr * gx, theta, g),)
        """
    case .momentum:
      copies = 2
      update = """
            lr, mu = inner_lr(phi, data), inner_momentum(phi, data)
            velocity = tmap(lambda v, gx: mu * v + gx, state[1], g)
            return tmap(lambda x, v: x - lr * v, theta, velocity), velocity
        """
    case .adam(_, let m, _):
      copies = 3
      s +=
        "BETA1, BETA2, ADAM_EPS = \(JAXOpTable.number(m.beta1)), \(JAXOpTable.number(m.beta2)), \(JAXOpTable.number(m.eps))\n"
      s += "# Adam's bias corrections 1/(1 - beta^(k+1)), computed as FixedStepRunner does.\n"
      s += "BIAS1 = jnp.array([1 / (1 - BETA1 ** (k + 1)) for k in range(STEPS)])\n"
      s += "BIAS2 = jnp.array([1 / (1 - BETA2 ** (k + 1)) for k in range(STEPS)])\n"
      update = """
            lr = inner_lr(phi, data)
            first = tmap(lambda m, gx: BETA1 * m + (1 - BETA1) * gx, state[1], g)
            second = tmap(lambda v, gx: BETA2 * v + (1 - BETA2) * (gx * gx), state[2], g)
            c1, c2 = BIAS1[k], BIAS2[k]
            theta = tmap(lambda x, m, v: x - lr * ((m * c1) / (sqrt0(v * c2) + ADAM_EPS)), theta, first, second)
            return theta, first, second
        """
    case .rule:
      let name = p.variables[p.variables(.inner)[0]].name
      update = """
            return ({**theta, \(py(name)): theta[\(py(name))] + rule_update(theta, phi, data, g[\(py(name))])},)
        """
    case .newton, .fixpoint, .flow:
      preconditionFailure("only fixed-step solvers reach fixedSteps")
    }
    s += """


      def inner_step(state, k, phi, data):
          \"\"\"Step k (0-based) of the inner solver on the state (theta\(copies == 2 ? ", velocity" : copies == 3 ? ", first moment, second moment" : "")).\"\"\"
          \(origin)
          theta = state[0]
          g = jax.grad(inner_loss)(theta, phi, data)
      \(update)


      def inner_state0(phi, data):
          theta = initial_inner(phi, data)
          return (theta,) + tuple(tmap(jnp.zeros_like, theta) for _ in range(\(copies - 1)))


      def run_steps(state, phi, data, first, last):
          \"\"\"Inner steps first..last-1 from a state, as one lax.scan.\"\"\"
          if last <= first:
              return state

          def body(s, k):
              return inner_step(s, k, phi, data), None

          return lax.scan(body, state, jnp.arange(first, last))[0]


      def solve_inner(phi, data):
          \"\"\"Every task's theta after the STEPS inner steps.\"\"\"
          return over_tasks(lambda d: run_steps(inner_state0(phi, d), phi, d, 0, STEPS)[0], data), STEPS


      """
    return s
  }

  static func residual(fixpoint: Bool) -> String {
    let r =
      fixpoint
      ? "flat_inner({INNER[0][0]: fixpoint_map(th, phi, d)}) - flat_inner(th)"
      : "flat_inner(jax.grad(inner_loss)(th, phi, d))"
    return """
      def inner_residual(theta, phi, data):
          \"\"\"The largest over tasks of \(fixpoint ? "||E(z) - z||" : "||grad_theta L_in||").\"\"\"
          def one(d, th):
              r = \(r)
              return jnp.sqrt(jnp.dot(r, r))

          return task_max(over_tasks(one, data, theta))


      def outer_value_and_grad(theta, phi_flat, data):
          \"\"\"L_out with its gradients in every task's theta and in phi.\"\"\"
          return jax.value_and_grad(lambda th, pf: outer_loss(th, unflat_outer(pf), data), argnums=(0, 1))(theta, phi_flat)


      """
  }
}
