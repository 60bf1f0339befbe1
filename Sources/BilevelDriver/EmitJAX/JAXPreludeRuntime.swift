/// The program-independent part of an emitted module: the outer solver, bilevelc's summary and JSON, and the command line.
extension JAXPrelude {
  static let runtime = #"""
    # ---- the outer solver (OuterOptimizer.swift), on the host in float64 ----

    def outer_optimizer():
        first, second, count = None, None, 0

        def step(phi, g):
            nonlocal first, second, count
            spec = OUTER_SOLVER
            if spec["kind"] == "adam":
                if first is None:
                    first, second = np.zeros_like(phi), np.zeros_like(phi)
                count += 1
                c1 = 1 / (1 - spec["beta1"] ** count)
                c2 = 1 / (1 - spec["beta2"] ** count)
                first = spec["beta1"] * first + (1 - spec["beta1"]) * g
                second = spec["beta2"] * second + (1 - spec["beta2"]) * g * g
                phi = phi - spec["lr"] * (first * c1) / (np.sqrt(second * c2) + spec["eps"])
            else:
                phi = phi - spec["lr"] * g
            return project(phi)

        return step


    def project(phi):
        if BOUNDS is None:
            return phi
        return np.minimum(np.maximum(phi, BOUNDS[0]), BOUNDS[1])


    def evaluate(phi, data):
        """One hypergradient, with its figures on the host."""
        r = HYPERGRADIENT(jnp.asarray(phi), data)
        r = jax.tree_util.tree_map(np.asarray, r)
        r["gradient"] = np.asarray(r["gradient"], dtype=np.float64)
        return r


    def run(data, trace=None):
        steps = OUTER_SOLVER["steps"] if OUTER_SOLVER else 0
        step = outer_optimizer()
        phi = project(np.asarray(flat_outer(initial_outer(data)), dtype=np.float64))
        report = dict(initial_phi=phi, phi=phi, initial_loss=None, final=None, steps_done=0, fault=None, fault_step=None)
        for k in range(steps + 1):
            r = evaluate(phi, data)
            if not (np.isfinite(r["loss"]) and np.all(np.isfinite(r["gradient"]))):
                report["fault"] = "the outer loss or the hypergradient is not finite"
                report["fault_step"] = k
                return report
            if k == 0:
                report["initial_loss"] = float(r["loss"])
            report.update(final=r, phi=phi, steps_done=k)
            if trace is not None:
                trace.append((k, float(r["loss"]), float(np.linalg.norm(r["gradient"])), float(r["residual"]), phi))
            if k == steps:
                break
            phi = step(phi, r["gradient"])
            if not np.all(np.isfinite(phi)):
                report["fault"] = f"outer step {k + 1}: the outer variables became non-finite (lower the outer learning rate)"
                report["fault_step"] = k + 1
                return report
        return report


    # ---- bilevelc's text figures (NumberFormat.swift, ErrorFigure.swift) ----

    def _exponent_text(s):
        if "e" not in s:
            return s
        mantissa, exponent = s.split("e")
        return mantissa + "e" + str(int(exponent))


    def format_value(x):
        x = float(x)
        if x != x:
            return "nan"
        if x in (float("inf"), float("-inf")):
            return "inf" if x > 0 else "-inf"
        if x == 0:
            return "0"
        return _exponent_text("%.6g" % x)


    def _power(k):
        return "1" if k == 0 else f"1e{k}"


    def error_figure(x, floor=-11):
        x = float(x)
        if x != x:
            return "nan"
        if x == float("inf"):
            return "inf"
        if x < float(f"1e{floor}"):
            k = floor
        else:
            k = int(math.floor(math.log10(x)))
            while x >= float(f"1e{k}"):
                k += 1
            while x < float(f"1e{k - 1}"):
                k -= 1
        return "< " + _power(k)


    def _row(xs):
        if len(xs) <= 8:
            return "[" + ", ".join(format_value(x) for x in xs) + "]"
        return "[" + ", ".join(format_value(x) for x in xs[:6]) + f", ... ({len(xs)} entries)]"


    def _type(shape):
        return "scalar" if len(shape) == 0 else f"vector[{shape[0]}]" if len(shape) == 1 else f"matrix[{shape[0]}, {shape[1]}]"


    def value_summary(values, shape):
        if len(shape) == 0:
            return format_value(values[0])
        norm = math.sqrt(sum(x * x for x in values))
        first = _row(list(values[:3]))[:-1]
        return f"{_type(shape)}, norm {format_value(norm)}, first {first}{', ...]' if len(values) > 3 else ']'}"


    def _blocks(phi):
        offset = 0
        for name, shape in OUTER:
            size = int(np.prod(shape, dtype=int))
            yield name, shape, [float(x) for x in phi[offset:offset + size]]
            offset += size


    def linear_method(report):
        return ("Cholesky" if bool(report["cholesky"]) else "LU") if LINEAR_METHOD == "dense" else LINEAR_METHOD


    def summary(report):
        steps = report["steps_done"]
        what = "the gradient of the outer loss" if SINGLE_LEVEL else "hypergradient by " + METHOD
        solver = OUTER_SOLVER["kind"] if OUTER_SOLVER else "no outer solver"
        out = (f"solved: {steps} outer step{'' if steps == 1 else 's'} ({solver}), {what}\n" if report["fault"] is None
               else f"stopped at outer step {report['fault_step']}; the last good point:\n")
        final = report["final"]
        if report["initial_loss"] is not None and final is not None:
            out += f"  outer loss: {format_value(report['initial_loss'])} → {format_value(final['loss'])}\n"
        for name, shape, values in _blocks(report["phi"]):
            out += f"  {name} = {value_summary(values, shape)}\n"
        if final is not None:
            out += f"  {'gradient' if SINGLE_LEVEL else 'hypergradient'} norm: {format_value(np.linalg.norm(final['gradient']))}\n"
            if not SINGLE_LEVEL:
                what = "‖E(z) − z‖" if FIXPOINT else "‖∇θ L_in‖"
                n = int(final["steps"])
                how = "solved in closed form" if METHOD == "closed_form" else f"after {n} inner step{'' if n == 1 else 's'}"
                out += f"  inner residual {what} {error_figure(final['residual'])} {how}\n"
            if "linear" in final:
                s = final["linear"]
                method = linear_method(s)
                i = int(s["iterations"])
                iterations = "dense" if method in ("Cholesky", "LU") else f"{i} iteration{'' if i == 1 else 's'}"
                out += (f"  linear solve ({method}): {iterations}, residual {error_figure(s['residual'])} "
                        f"(relative {error_figure(s['relative'])})\n")
        return out


    def _json_number(x):
        x = float(x)
        return repr(x) if math.isfinite(x) else "null"


    def result_json(report, seconds):
        final = report["final"]
        fields = [("program", json.dumps(PROGRAM, ensure_ascii=False)),
                  ("method", "null" if SINGLE_LEVEL else json.dumps(METHOD)),
                  ("outer_solver", json.dumps(OUTER_SOLVER["kind"] if OUTER_SOLVER else "none")),
                  ("outer_steps", str(report["steps_done"])),
                  ("initial_outer_loss", "null" if report["initial_loss"] is None else _json_number(report["initial_loss"])),
                  ("final_outer_loss", "null" if final is None else _json_number(final["loss"]))]
        variables = [f'    {json.dumps(name)}: {{"shape": {json.dumps(_type(shape))}, "values": [{", ".join(_json_number(x) for x in values)}]}}'
                     for name, shape, values in _blocks(report["phi"])]
        fields.append(("outer_variables", "{\n" + ",\n".join(variables) + "\n  }"))
        if final is not None:
            fields.append(("hypergradient", "[" + ", ".join(_json_number(x) for x in final["gradient"]) + "]"))
            fields.append(("hypergradient_norm", _json_number(np.linalg.norm(final["gradient"]))))
            fields.append(("inner_residual", "null" if SINGLE_LEVEL else _json_number(final["residual"])))
            fields.append(("inner_steps", str(int(final["steps"]))))
            if "linear" in final:
                s = final["linear"]
                fields.append(("linear_solve", f'{{"method": {json.dumps(linear_method(s))}, "iterations": {int(s["iterations"])}, '
                               f'"residual": {_json_number(s["residual"])}, "relative_residual": {_json_number(s["relative"])}, '
                               '"non_positive_curvature": null}'))
        fields.append(("fault", "null" if report["fault"] is None
                       else f'{{"message": {json.dumps(report["fault"])}, "outer_step": {report["fault_step"]}}}'))
        fields.append(("wall_time_seconds", _json_number(seconds)))
        fields.append(("peak_memory_bytes", str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)))
        return "{\n" + ",\n".join(f"  {json.dumps(k)}: {v}" for k, v in fields) + "\n}\n"


    def load_values(folder):
        """The data as bilevelc computed them: NAME.npy each, a per-task entry stacked over the tasks."""
        return {name: jnp.asarray(np.load(os.path.join(folder, name + ".npy"))) for name in DATA_TASK_AXES}


    def main(argv=None):
        parser = argparse.ArgumentParser(description=f"{PROGRAM}, compiled by bilevelc --emit jax")
        parser.add_argument("--grad", action="store_true", help="print the outer loss and hypergradient at the initial point")
        parser.add_argument("--json", metavar="FILE", help="also write the result as JSON (bilevelc's fields)")
        parser.add_argument("--data-dir", default=os.path.dirname(os.path.abspath(__file__)),
                            help="where the program's data files are (default: beside this module)")
        parser.add_argument("--devices", type=int, default=0, help="devices to spread the tasks over (default: all local devices)")
        parser.add_argument("--distributed", action="store_true", help="call jax.distributed.initialize() first (several hosts)")
        parser.add_argument("--time", type=int, metavar="N", help="time N jitted hypergradients at the initial point")
        parser.add_argument("--min-seconds", type=float, default=0.0, metavar="S",
                            help="with --time N: more calls (at most 2000) until they have lasted S seconds")
        parser.add_argument("--data-values", metavar="DIR",
                            help="read each data value from DIR/NAME.npy (bilevelc's, as bilevelc-bench writes them) instead of computing it")
        args = parser.parse_args(argv)
        if args.distributed:
            jax.distributed.initialize()
        started = time.perf_counter()
        values = load_values(args.data_values) if args.data_values else load_data(args.data_dir)
        data, devices = place_on_devices(values, args.devices)
        global BOUNDS
        BOUNDS = outer_bounds(data)
        if args.grad or args.time:
            phi = project(np.asarray(flat_outer(initial_outer(data)), dtype=np.float64))
            t0 = time.perf_counter()
            r = evaluate(phi, data)
            first = time.perf_counter() - t0
            if args.time:
                print(f"seconds of the first call: {first!r} (tracing and compiling included)")
                jax.block_until_ready(HYPERGRADIENT(jnp.asarray(phi), data))
                t0 = time.perf_counter()
                calls = 0
                while calls < args.time or (calls < 2000 and time.perf_counter() - t0 < args.min_seconds):
                    jax.block_until_ready(HYPERGRADIENT(jnp.asarray(phi), data))
                    calls += 1
                print(f"seconds per hypergradient: {(time.perf_counter() - t0) / calls!r} on {devices} device{'' if devices == 1 else 's'}")
            print(f"outer loss: {float(r['loss'])!r}")
            print("hypergradient: [" + ", ".join(repr(float(x)) for x in r["gradient"]) + "]")
            if args.json:
                with open(args.json, "w") as f:
                    f.write(json.dumps(dict(outer_loss=float(r["loss"]), hypergradient=[float(x) for x in r["gradient"]],
                                            devices=devices)) + "\n")
            return 0
        print(HEADER, end="")
        report = run(data)
        if report["fault"] is not None:
            print(f"{PROGRAM}: error: {report['fault']}", file=sys.stderr)
        print(summary(report), end="")
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(f"  wall time: {format_value(round(seconds * 1000) / 1000)} s, peak memory: {peak / 1048576:.1f} MB on {devices} device{'' if devices == 1 else 's'}")
        if args.json:
            with open(args.json, "w") as f:
                f.write(result_json(report, seconds))
        return 0 if report["fault"] is None else 1

    """#
}
