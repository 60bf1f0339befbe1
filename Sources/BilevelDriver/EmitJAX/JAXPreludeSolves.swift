/// The program-independent part of an emitted module: the implicit methods' linear solves (IterativeSolvers.swift, DenseSolver.swift).
extension JAXPrelude {
  static let solves = #"""
    # ---- linear solves of the implicit methods (IterativeSolvers.swift) ----

    def measure(apply, b, x, iterations):
        """||b - A x|| with one more product, and relative to ||b||."""
        r = b - apply(x)
        residual = jnp.sqrt(jnp.dot(r, r))
        b_norm = jnp.sqrt(jnp.dot(b, b))
        return dict(iterations=iterations, residual=residual, cholesky=False,
                    relative=jnp.where(b_norm == 0, 0.0, residual / jnp.where(b_norm == 0, 1.0, b_norm)))


    def conjugate_gradient(apply, b, iterations, tolerance):
        """CG from x = 0; stops after `iterations`, at ||r|| <= tolerance ||b||, or at p'Ap <= 0."""
        b_norm = jnp.sqrt(jnp.dot(b, b))

        def cond(c):
            return (c["k"] < iterations) & ~c["stop"]

        def body(c):
            converged = jnp.sqrt(c["rr"]) <= tolerance * b_norm
            ap = apply(c["p"])
            curvature = jnp.dot(c["p"], ap)
            bad = ~(curvature > 0)
            stop = converged | bad
            alpha = c["rr"] / jnp.where(bad, 1.0, curvature)
            x = jnp.where(stop, c["x"], c["x"] + alpha * c["p"])
            r = jnp.where(stop, c["r"], c["r"] - alpha * ap)
            following = jnp.dot(r, r)
            p = jnp.where(stop, c["p"], r + (following / c["rr"]) * c["p"])
            return dict(k=c["k"] + 1, x=x, r=r, p=p, rr=jnp.where(stop, c["rr"], following), stop=stop,
                        done=jnp.where(stop, c["done"], c["k"] + 1))

        start = dict(k=0, x=jnp.zeros_like(b), r=b, p=b, rr=jnp.dot(b, b), stop=b_norm == 0, done=0)
        c = lax.while_loop(cond, body, start)
        return c["x"], measure(apply, b, c["x"], c["done"])


    def neumann(apply, b, iterations, alpha):
        """x = alpha * sum_{j=0..K} (I - alpha A)^j b."""
        def body(_, c):
            term, total = c
            term = term - alpha * apply(term)
            return term, total + term

        _, total = lax.fori_loop(0, iterations, body, (b, b))
        x = total * alpha
        return x, measure(apply, b, x, iterations)


    def bicgstab(apply, b, iterations, tolerance):
        """BiCGSTAB (van der Vorst) for a nonsymmetric A, from x = 0."""
        b_norm = jnp.sqrt(jnp.dot(b, b))
        r_hat = b

        def cond(c):
            return (c["k"] < iterations) & ~c["stop"]

        def body(c):
            converged = jnp.sqrt(jnp.dot(c["r"], c["r"])) <= tolerance * b_norm
            following = jnp.dot(r_hat, c["r"])
            stop0 = converged | (following == 0)
            beta = (following / c["rho"]) * (c["alpha"] / c["omega"])
            p = c["r"] + beta * (c["p"] - c["omega"] * c["v"])
            v = apply(p)
            denominator = jnp.dot(r_hat, v)
            stop1 = stop0 | (denominator == 0)
            alpha = following / jnp.where(denominator == 0, 1.0, denominator)
            s = c["r"] - alpha * v
            t = apply(s)
            tt = jnp.dot(t, t)
            omega = jnp.where(tt == 0, 0.0, jnp.dot(t, s) / jnp.where(tt == 0, 1.0, tt))
            x = c["x"] + alpha * p + omega * s
            r = s - omega * t

            def keep(new, old):
                return jnp.where(stop1, old, new)

            # stop0: nothing changes; stop1 (zero denominator): rho and p advanced, then stop.
            return dict(k=c["k"] + 1, x=keep(x, c["x"]), r=keep(r, c["r"]), p=jnp.where(stop0, c["p"], p),
                        v=jnp.where(stop0, c["v"], v), rho=jnp.where(stop0, c["rho"], following),
                        alpha=keep(alpha, c["alpha"]), omega=keep(omega, c["omega"]),
                        stop=stop1 | (omega == 0), done=jnp.where(stop1, c["done"], c["k"] + 1))

        z = jnp.zeros_like(b)
        start = dict(k=0, x=z, r=b, p=z, v=z, rho=1.0, alpha=1.0, omega=1.0, stop=b_norm == 0, done=0)
        c = lax.while_loop(cond, body, start)
        return c["x"], measure(apply, b, c["x"], c["done"])


    def dense_solve(apply, b, n, symmetric):
        """The matrix assembled from n products and solved: Cholesky when it is positive definite, else LU."""
        a = jax.vmap(apply, out_axes=1)(jnp.eye(n))
        lu = jnp.linalg.solve(a, b)
        if symmetric:
            factor = jnp.linalg.cholesky(a)
            ok = jnp.all(jnp.isfinite(factor))
            chol = jax.scipy.linalg.cho_solve((jnp.where(ok, factor, jnp.eye(n)), True), b)
            x = jnp.where(ok, chol, lu)
        else:
            ok = False
            x = lu
        report = measure(apply, b, x, 1)
        report["cholesky"] = ok
        return x, report



    """#
}
