import BilevelCore
import BilevelFrontEnd

/// The hypergradient methods as Python, each the same map as its Swift
/// definition (Sources/BilevelSolvers/Hypergradients) written with JAX's
/// transforms: `jax.vjp` through the scanned steps, `jax.checkpoint`ed
/// segments, `jax.jvp` tangents, `lax.stop_gradient` for what a method holds.
extension JAXMethodBlocks {
  /// The name the summary gives the adjoint solve, or nil for methods without one.
  static func linearMethod(_ m: HypergradientMethod, fixpoint: Bool) -> String? {
    switch m {
    case .implicitConjugateGradient: return fixpoint ? "bicgstab" : "cg"
    case .implicitNeumann: return "neumann"
    case .implicitExact, .closedForm: return "dense"
    default: return nil
    }
  }

  static func method(_ m: HypergradientMethod, _ p: Program) -> String {
    if p.isSingleLevel {
      return """
        def hypergradient(phi_flat, data):
            \"\"\"No inner problem: the exact gradient of the outer loss.\"\"\"
            loss, gradient = jax.value_and_grad(lambda pf: outer_loss({}, unflat_outer(pf), data))(phi_flat)
            return dict(loss=loss, gradient=gradient, steps=0, residual=jnp.nan)

        """
    }
    switch m {
    case .unrollReverse(let checkpoints?): return checkpointed(checkpoints, p)
    case .unrollReverse(nil):
      return reverse(
        "unroll(reverse): reverse mode (jax.vjp) through the lax.scan of the inner steps",
        solve: "solve_inner(phi, data)[0]")
    case .truncated(let k): return truncated(k, p)
    case .unrollForward: return forward
    case .firstOrder: return firstOrder
    case .finiteDifference(let eps): return finiteDifference(eps)
    case .evograd(let samples, let sigma, let tau, let seed, _, _):
      return evograd(samples, sigma, tau, seed, p)
    case .implicitConjugateGradient(let iterations, let tolerance):
      let solve = p.innerFixpoint != nil ? "bicgstab" : "conjugate_gradient"
      return implicit(
        "lambda apply, b: \(solve)(apply, b, \(iterations), \(JAXOpTable.number(tolerance)))", p,
        closedForm: false)
    case .implicitNeumann(let iterations, let alpha):
      return implicit(
        "lambda apply, b: neumann(apply, b, \(iterations), \(JAXOpTable.number(alpha)))", p,
        closedForm: false)
    case .implicitExact:
      return implicit(
        "lambda apply, b: dense_solve(apply, b, \(p.size(.inner)), \(p.innerFixpoint == nil ? "True" : "False"))",
        p, closedForm: false)
    case .closedForm:
      return implicit(
        "lambda apply, b: dense_solve(apply, b, \(p.size(.inner)), True)", p, closedForm: true)
    case .adjoint: preconditionFailure("JAXSupport.check refuses the adjoint method")
    case .proxy: preconditionFailure("JAXSupport.check refuses proxy methods")
    }
  }

  static func reverse(_ doc: String, solve: String) -> String {
    """
    def hypergradient(phi_flat, data):
        \"\"\"\(doc).\"\"\"
        def bilevel(pf):
            phi = unflat_outer(pf)
            theta = \(solve)
            return outer_loss(theta, phi, data), theta

        loss, pullback, theta = jax.vjp(bilevel, phi_flat, has_aux=True)
        (gradient,) = pullback(jnp.ones_like(loss))
        return dict(loss=loss, gradient=gradient, steps=STEPS, residual=inner_residual(theta, unflat_outer(phi_flat), data))

    """
  }

  static func checkpointed(_ k: Int, _ p: Program) -> String {
    let steps = p.innerSolver?.spec.fixedSteps ?? 0
    let snapshots = max(1, min(k, steps))
    // Segment boundaries: `snapshots` stretches of (nearly) equal length.
    let bounds = (0...snapshots).map { $0 * steps / snapshots }
    let segments = zip(bounds, bounds.dropFirst()).map { "(\($0), \($1))" }.joined(separator: ", ")
    return """
      # unroll(reverse, checkpoints: \(k)): the segments' starting states are kept; each segment's steps are
      # recomputed (jax.checkpoint) while the reverse sweep passes it.
      SEGMENTS = [\(segments)]
      _segment = jax.checkpoint(run_steps, static_argnums=(3, 4))


      def solve_inner_checkpointed(phi, data):
          def one(d):
              s = inner_state0(phi, d)
              for first, last in SEGMENTS:
                  s = _segment(s, phi, d, first, last)
              return s[0]

          return over_tasks(one, data)


      """
        + reverse(
          "unroll(reverse, checkpoints: \(k)): jax.vjp through checkpointed segments of the scan",
          solve: "solve_inner_checkpointed(phi, data)")
  }

  static func truncated(_ k: Int, _ p: Program) -> String {
    """
    TRUNCATION = min(\(k), STEPS)


    def solve_inner_truncated(phi, data):
        \"\"\"The first STEPS - K steps held (lax.stop_gradient), the last K differentiated.\"\"\"
        def one(d):
            s = lax.stop_gradient(run_steps(inner_state0(phi, d), phi, d, 0, STEPS - TRUNCATION))
            return run_steps(s, phi, d, STEPS - TRUNCATION, STEPS)[0]

        return over_tasks(one, data)


    """
      + reverse(
        "truncated(\(k)): jax.vjp through the last K inner steps only",
        solve: "solve_inner_truncated(phi, data)")
  }

  static let forward = """
    def hypergradient(phi_flat, data):
        \"\"\"unroll(forward): one jax.jvp tangent of the inner steps per outer entry.\"\"\"
        def final_theta(pf):
            return solve_inner(unflat_outer(pf), data)[0]

        theta = final_theta(phi_flat)
        tangents = jax.vmap(lambda e: jax.jvp(final_theta, (phi_flat,), (e,))[1])(jnp.eye(phi_flat.shape[0]))
        loss, (g_theta, g_phi) = outer_value_and_grad(theta, phi_flat, data)
        gradient = g_phi + jax.vmap(lambda z: tree_vdot(g_theta, z))(tangents)
        return dict(loss=loss, gradient=gradient, steps=STEPS, residual=inner_residual(theta, unflat_outer(phi_flat), data))

    """

  static let firstOrder = """
    def hypergradient(phi_flat, data):
        \"\"\"first_order: theta held (lax.stop_gradient) except through its start theta0(phi).\"\"\"
        phi = unflat_outer(phi_flat)
        theta, steps = solve_inner(phi, data)
        theta = lax.stop_gradient(theta)

        def through_start(pf):
            ph = unflat_outer(pf)
            start = over_tasks(lambda d: initial_inner(ph, d), data)
            return outer_loss(tmap(lambda t, s: t + (s - lax.stop_gradient(s)), theta, start), ph, data)

        loss, gradient = jax.value_and_grad(through_start)(phi_flat)
        return dict(loss=loss, gradient=gradient, steps=steps, residual=inner_residual(theta, phi, data))

    """

  static func finiteDifference(_ eps: Double) -> String {
    """
    def hypergradient(phi_flat, data):
        \"\"\"finite_difference(eps: \(JAXOpTable.number(eps))): the last gd step differentiated, its mixed product a central
        difference of grad_phi L_in at theta_(T-1) +- e v, e = eps/||v||, v = dL_out/dtheta_T (FirstOrder.swift).\"\"\"
        phi = unflat_outer(phi_flat)
        lr, lr_gradient = jax.value_and_grad(lambda pf: inner_lr(unflat_outer(pf), data))(phi_flat)

        def before_and_after(d):
            s = run_steps(inner_state0(phi, d), phi, d, 0, STEPS - 1)
            return s[0], run_steps(s, phi, d, STEPS - 1, STEPS)[0]

        before, theta = over_tasks(before_and_after, data)
        loss, (v, g0) = outer_value_and_grad(theta, phi_flat, data)

        def part(d, b, vt):
            vf, bf = flat_inner(vt), flat_inner(b)
            v_norm = jnp.sqrt(jnp.dot(vf, vf))
            g_outer = lambda x: flat_outer(jax.grad(inner_loss, argnums=1)(unflat_inner(x), phi, d))
            g_inner = lambda x: flat_inner(jax.grad(inner_loss)(unflat_inner(x), phi, d))
            slope = jnp.dot(g_inner(bf), vf)
            e = \(JAXOpTable.number(eps)) / jnp.where(v_norm > 0, v_norm, 1.0)
            plus, minus = bf + e * vf, bf - e * vf
            result = -slope * lr_gradient - jnp.where(v_norm > 0, lr * (g_outer(plus) - g_outer(minus)) / (2 * e), 0.0)
            if STEPS == 1:
                cotangent = jnp.where(v_norm > 0, vf - lr * (g_inner(plus) - g_inner(minus)) / (2 * e), vf)
                _, pullback = jax.vjp(lambda pf: flat_inner(initial_inner(unflat_outer(pf), d)), phi_flat)
                result = result + pullback(cotangent)[0]
            return result

        gradient = g0 + task_sum(over_tasks(part, data, before, v))
        return dict(loss=loss, gradient=gradient, steps=STEPS, residual=inner_residual(theta, phi, data))

    """
  }

  static func evograd(
    _ samples: Int, _ sigma: Double, _ tau: Double, _ seed: Int, _ p: Program
  ) -> String {
    """
    # evograd's draws: task t's copy k uses the normal stream seeded seed * 1000003 + t * K + k (mod 2^64).
    EVO_NOISE = jnp.asarray(np.stack([np.stack([np.asarray(randn((\(p.size(.inner)),), (\(seed) * 1000003 + t * \(samples) + k) & _M64))
                                                for k in range(\(samples))]) for t in range(TASKS or 1)]))


    def hypergradient(phi_flat, data):
        \"\"\"evograd(\(samples), sigma: \(JAXOpTable.number(sigma)), tau: \(JAXOpTable.number(tau))): L_out at the softmax(-L_in/tau)-weighted
        mean of perturbed copies of theta, differentiated through the weights only (EvolutionaryProxy.swift).\"\"\"
        phi = unflat_outer(phi_flat)
        theta, steps = solve_inner(phi, data)
        theta = lax.stop_gradient(theta)

        def proxy_loss(pf):
            ph = unflat_outer(pf)

            def proxy(d, th, noise):
                copies = flat_inner(th)[None, :] + \(JAXOpTable.number(sigma)) * noise
                losses = jax.vmap(lambda c: inner_loss(unflat_inner(c), ph, d))(copies)
                a = -losses / \(JAXOpTable.number(tau))
                w = jnp.exp(a - lax.stop_gradient(jnp.max(a)))
                return unflat_inner((w / jnp.sum(w)) @ copies)

            mixed = over_tasks(proxy, data, theta, EVO_NOISE if TASKS is not None else EVO_NOISE[0])
            return outer_loss(mixed, ph, data)

        loss, gradient = jax.value_and_grad(proxy_loss)(phi_flat)
        return dict(loss=loss, gradient=gradient, steps=steps, residual=inner_residual(theta, phi, data))

    """
  }

  static func implicit(_ solve: String, _ p: Program, closedForm: Bool) -> String {
    let fixpoint = p.innerFixpoint != nil
    var s = "ADJOINT_SOLVE = \(solve)\n\n\n"
    if closedForm {
      s += """
        def solve_inner(phi, data):
            \"\"\"closed_form: theta* = theta0 - H^-1 grad_theta L_in(theta0), the inner loss being quadratic.\"\"\"
            def one(d):
                start = flat_inner(initial_inner(phi, d))
                gradient_at = lambda x: flat_inner(jax.grad(inner_loss)(unflat_inner(x), phi, d))
                h = jax.vmap(lambda e: jax.jvp(gradient_at, (start,), (e,))[1], out_axes=1)(jnp.eye(start.shape[0]))
                return unflat_inner(start - jnp.linalg.solve(h, gradient_at(start)))

            return over_tasks(one, data), 0


        """ + residual(fixpoint: false)
    }
    let part =
      fixpoint
      ? """
          def part(d, z, b):
              z0 = flat_inner(z)
              fixpoint_at = lambda x, pf: flat_inner({INNER[0][0]: fixpoint_map(unflat_inner(x), unflat_outer(pf), d)})
              _, pullback_z = jax.vjp(lambda x: fixpoint_at(x, phi_flat), z0)
              v, report = ADJOINT_SOLVE(lambda u: u - pullback_z(u)[0], flat_inner(b))
              _, pullback_phi = jax.vjp(lambda pf: fixpoint_at(z0, pf), phi_flat)
              return pullback_phi(v)[0], report
      """
      : """
          def part(d, th, b):
              x0 = flat_inner(th)
              gradient_at = lambda x, pf: flat_inner(jax.grad(inner_loss)(unflat_inner(x), unflat_outer(pf), d))
              hessian_vector = lambda u: jax.jvp(lambda x: gradient_at(x, phi_flat), (x0,), (u,))[1]
              v, report = ADJOINT_SOLVE(hessian_vector, flat_inner(b))
              mixed = jax.grad(lambda pf: jnp.dot(gradient_at(x0, pf), v))(phi_flat)
              return -mixed, report
      """
    let system =
      fixpoint
      ? "(I - dE/dz)^T v = dL_out/dz, then dL_out/dphi + (dE/dphi)^T v"
      : "H v = dL_out/dtheta, then dL_out/dphi - (d2 L_in/dphi dtheta) v"
    s += """
      def hypergradient(phi_flat, data):
          \"\"\"\(closedForm ? "closed_form" : "implicit"): at the inner solution, \(system) (ImplicitDifferentiation.swift).\"\"\"
          phi = unflat_outer(phi_flat)
          theta, steps = solve_inner(phi, data)
          loss, (rhs, g0) = outer_value_and_grad(theta, phi_flat, data)

      \(part)

          parts, reports = over_tasks(part, data, theta, rhs)
          if TASKS is not None:
              worst = jnp.argmax(reports["relative"])
              reports = tmap(lambda x: x[worst], reports)
          return dict(loss=loss, gradient=g0 + task_sum(parts), steps=steps, residual=inner_residual(theta, phi, data), linear=reports)

      """
    return s
  }
}
