"""maml_sinusoid.blv, compiled by bilevelc --emit jax.

python3 MODULE.py               solve, and print bilevelc's summary (--json FILE: its JSON too)
python3 MODULE.py --grad        the outer loss and hypergradient at the initial point
python3 MODULE.py --devices N   spread the tasks over N devices (default: all local devices)
Data files are read relative to --data-dir (default: this module's folder).
"""
import argparse
import json
import math
import os
import resource
import struct
import sys
import time

import numpy as np
import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import jax.scipy.special
from jax import lax

tmap = jax.tree_util.tree_map


# ---- bilevelc's data generator (README, "Random data"), bit for bit ----

_M64 = (1 << 64) - 1


def _bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _double(b):
    return struct.unpack("<d", struct.pack("<Q", b))[0]


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & _M64


_LN2_HI = _double(0x3FE62E42FEE00000)
_LN2_LO = _double(0x3DEA39EF35793C76)


def det_log(x):
    """ln x from IEEE + - * / and bit manipulation only, as RandomStream.log."""
    if x != x or x < 0:
        return float("nan")
    if x == 0:
        return float("-inf")
    if x == float("inf"):
        return x
    bits = _bits(x)
    e = 0
    if bits >> 52 == 0:
        bits = _bits(x * 2.0 ** 54)
        e = -54
    e += (bits >> 52) - 1023
    mantissa = bits & 0x000FFFFFFFFFFFFF
    if mantissa >= 0x6A09E667F3BCD:
        mantissa |= 0x3FE0000000000000
        e += 1
    else:
        mantissa |= 0x3FF0000000000000
    m = _double(mantissa)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    poly = 2.0 / 25.0
    for d in (23.0, 21.0, 19.0, 17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0):
        poly = 2.0 / d + z * poly
    r = z * poly
    hfsq = 0.5 * f * f
    dk = float(e)
    return dk * _LN2_HI + (f - (hfsq - (s * (hfsq + r) + dk * _LN2_LO)))


class RandomStream:
    """SplitMix64 seeding, xoshiro256**, Marsaglia polar normals."""

    def __init__(self, seed):
        x = seed & _M64
        state = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & _M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
            state.append(z ^ (z >> 31))
        self.s = state
        self.cached = None

    def next_uint64(self):
        s0, s1, s2, s3 = self.s
        result = (_rotl((s1 * 5) & _M64, 7) * 9) & _M64
        t = (s1 << 17) & _M64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def uniform(self):
        return float(self.next_uint64() >> 11) * 2.0 ** -53

    def normal(self):
        if self.cached is not None:
            c, self.cached = self.cached, None
            return c
        while True:
            u = 2.0 * self.uniform() - 1.0
            v = 2.0 * self.uniform() - 1.0
            s = u * u + v * v
            if s >= 1.0 or s == 0.0:
                continue
            f = math.sqrt((-2.0 * det_log(s)) / s)
            self.cached = v * f
            return u * f


def randn(shape, seed):
    stream = RandomStream(seed)
    return jnp.asarray(np.array([stream.normal() for _ in range(int(np.prod(shape, dtype=int)))], dtype=np.float64).reshape(shape))


def rand(shape, seed):
    stream = RandomStream(seed)
    return jnp.asarray(np.array([stream.uniform() for _ in range(int(np.prod(shape, dtype=int)))], dtype=np.float64).reshape(shape))


def _number(text):
    t = text.strip().lower()
    if t in ("nan", "+nan", "-nan"):
        return float("nan")
    try:
        return float(t)
    except ValueError:
        return float.fromhex(t)


def csv(data_dir, path):
    """bilevelc's CSV: a non-numeric first row is a header; one column is a vector."""
    rows = []
    with open(os.path.join(data_dir, path), encoding="utf-8-sig") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            rows.append([c.strip().strip('"').strip() for c in line.split(",")])

    def numeric(c):
        try:
            _number(c)
            return True
        except ValueError:
            return False

    if rows and any(c and not numeric(c) for c in rows[0]):
        rows = rows[1:]
    a = np.array([[_number(c) for c in r] for r in rows], dtype=np.float64)
    return jnp.asarray(a[:, 0] if a.shape[1] == 1 else a)


def npy(data_dir, path):
    return jnp.asarray(np.load(os.path.join(data_dir, path)).astype(np.float64))


# ---- functions with bilevelc's documented derivatives at kinks ----

@jax.custom_jvp
def sqrt0(x):
    return jnp.sqrt(x)


@sqrt0.defjvp
def _sqrt0_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    y = jnp.sqrt(x)
    return y, 0.5 * y / jnp.where(x == 0, 1.0, x) * dx


@jax.custom_jvp
def abs0(x):
    return jnp.abs(x)


@abs0.defjvp
def _abs0_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return jnp.abs(x), jnp.sign(x) * dx


def step0(x):
    return jnp.where(jnp.isnan(x), x, jnp.where(x > 0, 1.0, 0.0))


def norm0(x, axis=None):
    return sqrt0(jnp.sum(x * x, axis=axis))


# ---- layouts: phi and one task's theta as flat vectors, in declaration order ----

def _flat(names, tree):
    if not names:
        return jnp.zeros(0)
    return jnp.concatenate([jnp.ravel(tree[n]) for n, _ in names])


def _unflat(names, v):
    out, offset = {}, 0
    for n, shape in names:
        size = int(np.prod(shape, dtype=int))
        out[n] = jnp.reshape(v[offset:offset + size], shape)
        offset += size
    return out


def flat_outer(phi):
    return _flat(OUTER, phi)


def unflat_outer(v):
    return _unflat(OUTER, v)


def flat_inner(theta):
    return _flat(INNER, theta)


def unflat_inner(v):
    return _unflat(INNER, v)


def tree_vdot(a, b):
    return sum(jnp.vdot(a[k], b[k]) for k in a)


# ---- tasks: a vmap over the stacked task axis ----

def over_tasks(f, data, *per_task):
    """f(one task's data, one task's slices of per_task) for every task, stacked."""
    if TASKS is None:
        return f(data, *per_task)
    return jax.vmap(f, in_axes=(DATA_TASK_AXES,) + (0,) * len(per_task))(data, *per_task)


def task_terms(f, theta, data):
    """The body of a task reduction, once per task (the outer loss's `mean over t`)."""
    return jax.vmap(f, in_axes=(THETA_TASK_AXES, DATA_TASK_AXES))(theta, data)


def task_sum(x):
    return x if TASKS is None else jnp.sum(x, axis=0)


def task_max(x):
    return x if TASKS is None else jnp.max(x, axis=0)


def place_on_devices(data, requested):
    """Puts the task axis of the data on a mesh of devices (replicating shared data)."""
    devices = jax.devices()
    if TASKS is None:
        return data, 1
    n = min(requested or len(devices), len(devices), TASKS)
    while TASKS % n:
        n -= 1
    mesh = jax.sharding.Mesh(np.array(devices[:n]), ("tasks",))
    spec = jax.sharding.PartitionSpec
    placed = {k: jax.device_put(v, jax.sharding.NamedSharding(mesh, spec("tasks") if DATA_TASK_AXES[k] == 0 else spec()))
              for k, v in data.items()}
    return placed, n


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


# ---- the program: maml_sinusoid.blv ----

PROGRAM = "maml_sinusoid.blv"
HEADER = "program maml_sinusoid.blv\n  tasks: t in 1..5\n  outer variables (m = 120): A: vector[40], b: vector[40], W: matrix[1, 40]\n  inner variables (d = 40 per task): V[t]: matrix[1, 40]\n  inner solver: gd(lr: 0.01, steps: 1) — minimise the inner loss\n  hypergradient: unroll(reverse)\n  outer solver: adam(lr: 0.01, steps: 200, beta1: 0.9, beta2: 0.999, eps: 1e-8)\n"
TASKS = 5
OUTER = [("A", (40,)), ("b", (40,)), ("W", (1, 40))]
INNER = [("V", (1, 40))]
THETA_TASK_AXES = {"V": 0}
DATA_TASK_AXES = {"xs": 0, "ys": 0, "xq": 0, "yq": 0}
METHOD = "unroll(reverse)"
SINGLE_LEVEL = False
FIXPOINT = False
LINEAR_METHOD = None
OUTER_SOLVER = dict(kind="adam", lr=0.01, steps=200, beta1=0.9, beta2=0.999, eps=1e-08)
BOUNDS = None

LITERAL_0 = jnp.asarray(np.array([-0.08721331871793049, -0.13008783418359873, -1.5752627106120098, -0.34768560321124703, -0.5396566618918057, -0.25155250891864045, 0.004540527456888232, 0.18104857988852138, 0.6234367045766765, -1.279385469332746, -0.5028833163300886, -0.18568794560336163, -0.397440004388985, 1.0723686312166087, -1.2888796514504781, 0.2724082810944607, -0.3744010753437682, -0.2124021894783595, 0.586830898979238, 0.3703522520927592, 0.5040675326183452, 0.9232819528959972, 0.5145441531790014, -0.38464166240899045, -0.22085056530778668, 0.3632019204435336, -1.2937003586444462, 1.4289694537417759, 0.6562112975516786, 1.2228588658913544, 0.0005645460046707392, -1.7193913636401443, 1.0173576416027261, 0.23663816279546918, -0.8657623450931177, 1.3389406598630493, 1.0379755324977742, 1.532183010612852, 2.0343282453674263, 0.3216636066702024], dtype=np.float64).reshape((40,)))
LITERAL_1 = jnp.asarray(np.array([-0.587905723255246, 0.9542369532915219, -0.9079637621494888, -0.9951079936583077, 0.5561521928631734, 0.7518674183667143, 0.554772344235711, 1.8558124256911408, 0.24549202049149843, -0.4347667982075176, 0.8573307623008178, -1.6109129203201868, 0.48756429909206356, -0.6523112399719782, -0.7567727590138498, -0.36215820587440256, 0.7205921528140622, 1.7743348388627593, -0.019768163147103664, -0.4590257198203279, -0.616038872703946, 0.27029334028145974, 0.38923539751971514, 0.8157016888107075, 0.23041466198101365, -0.3427258051093929, -0.04144106737947218, 0.4597999596066031, 1.2424770980180835, -0.21208363743539066, 0.08903496155494468, -2.363505457610129, 1.0221077044077795, -0.7272773105668169, -0.9999960865849722, -0.6960749907171254, 0.7871668934473729, -0.4319418123009762, -1.0738653287437965, 0.6283094737175955], dtype=np.float64).reshape((40,)))
LITERAL_3 = jnp.asarray(np.array([0.059810264836260944, 0.14634599192204392, -0.08950525532379916, -0.018806276603887423, -0.24156066857120823, 0.11072094167289706, -0.0762640652183899, 0.03002147408046318, -0.0036682456977549308, -0.18950001694998753, 0.059580315570600055, -0.09072847837180245, 0.007638153705039692, -0.06784886646625829, -0.1978145103599723, -0.00667035951310724, -0.14748775191336022, 0.10573546200987297, 0.024045403839903022, 0.068531707284638, -0.07458819933604412, -0.04313097918355594, 0.047802095970749886, -0.06193177013499849, -0.14432778113460096, -0.05116498217316523, 0.030316209049262657, 0.056092559084274865, 0.05120832018068886, 0.051360660185530406, 0.11178956754073187, 0.1318281562480114, 0.06489619341544665, 0.0913880483140424, -0.17777322130081596, 0.21125662619814586, -0.20009277162259853, -0.08200171283143277, 0.020931232424151482, -0.013084312582915165], dtype=np.float64).reshape((1, 40)))

def load_data(data_dir):
    """The data, computed as bilevelc computes them at compile time."""
    data = {}
    # maml_sinusoid.blv:8: data xs[t] = csv("sin/xs_{t}.csv")
    parts = []
    parts.append(jnp.reshape(csv(data_dir, "sin/xs_1.csv"), (10,)))  # task 1
    parts.append(jnp.reshape(csv(data_dir, "sin/xs_2.csv"), (10,)))  # task 2
    parts.append(jnp.reshape(csv(data_dir, "sin/xs_3.csv"), (10,)))  # task 3
    parts.append(jnp.reshape(csv(data_dir, "sin/xs_4.csv"), (10,)))  # task 4
    parts.append(jnp.reshape(csv(data_dir, "sin/xs_5.csv"), (10,)))  # task 5
    data["xs"] = jnp.stack(parts)
    # maml_sinusoid.blv:9: data ys[t] = csv("sin/ys_{t}.csv")
    parts = []
    parts.append(jnp.reshape(csv(data_dir, "sin/ys_1.csv"), (10,)))  # task 1
    parts.append(jnp.reshape(csv(data_dir, "sin/ys_2.csv"), (10,)))  # task 2
    parts.append(jnp.reshape(csv(data_dir, "sin/ys_3.csv"), (10,)))  # task 3
    parts.append(jnp.reshape(csv(data_dir, "sin/ys_4.csv"), (10,)))  # task 4
    parts.append(jnp.reshape(csv(data_dir, "sin/ys_5.csv"), (10,)))  # task 5
    data["ys"] = jnp.stack(parts)
    # maml_sinusoid.blv:10: data xq[t] = csv("sin/xq_{t}.csv")
    parts = []
    parts.append(jnp.reshape(csv(data_dir, "sin/xq_1.csv"), (10,)))  # task 1
    parts.append(jnp.reshape(csv(data_dir, "sin/xq_2.csv"), (10,)))  # task 2
    parts.append(jnp.reshape(csv(data_dir, "sin/xq_3.csv"), (10,)))  # task 3
    parts.append(jnp.reshape(csv(data_dir, "sin/xq_4.csv"), (10,)))  # task 4
    parts.append(jnp.reshape(csv(data_dir, "sin/xq_5.csv"), (10,)))  # task 5
    data["xq"] = jnp.stack(parts)
    # maml_sinusoid.blv:11: data yq[t] = csv("sin/yq_{t}.csv")
    parts = []
    parts.append(jnp.reshape(csv(data_dir, "sin/yq_1.csv"), (10,)))  # task 1
    parts.append(jnp.reshape(csv(data_dir, "sin/yq_2.csv"), (10,)))  # task 2
    parts.append(jnp.reshape(csv(data_dir, "sin/yq_3.csv"), (10,)))  # task 3
    parts.append(jnp.reshape(csv(data_dir, "sin/yq_4.csv"), (10,)))  # task 4
    parts.append(jnp.reshape(csv(data_dir, "sin/yq_5.csv"), (10,)))  # task 5
    data["yq"] = jnp.stack(parts)
    return data


def initial_outer(data):
    """the outer variables' initial values."""
    return {"A": jnp.broadcast_to(LITERAL_0, (40,)), "b": jnp.broadcast_to(LITERAL_1, (40,)), "W": jnp.broadcast_to(LITERAL_3, (1, 40))}


def outer_bounds(data):
    """The box of the outer variables (per entry), or None."""
    return None


def initial_inner(phi, data):
    """one task's inner variables at the start of the inner solve."""
    return {"V": jnp.broadcast_to(phi["W"], (1, 40))}


def inner_loss(theta, phi, data):
    """L_in for one task."""
    # maml_sinusoid.blv:20: mean((net(V[t], xs[t]) - ys[t])^2)
    t10 = jnp.reshape(data["xs"], (10, 1))
    t11 = jnp.reshape(phi["A"], (1, 40))
    t12 = jnp.matmul(t10, t11)
    t14 = (t12 + phi["b"])
    t15 = jnp.tanh(t14)
    t16 = jnp.reshape(theta["V"][0:1, 0:40], (40,))
    t17 = jnp.matmul(t15, t16)
    t19 = (t17 - data["ys"])
    t21 = (t19 ** 2.0)
    t22 = jnp.mean(t21)
    return t22


def outer_loss(theta, phi, data):
    """L_out, over every task's theta."""
    # maml_sinusoid.blv:21: mean over t: mean((net(V[t], xq[t]) - yq[t])^2)
    def task_term_34(theta, data):  # one task's term of a `mean over` reduction
        t11 = jnp.reshape(phi["A"], (1, 40))
        t16 = jnp.reshape(theta["V"][0:1, 0:40], (40,))
        t24 = jnp.reshape(data["xq"], (10, 1))
        t25 = jnp.matmul(t24, t11)
        t27 = (phi["b"] + t25)
        t28 = jnp.tanh(t27)
        t29 = jnp.matmul(t28, t16)
        t31 = (t29 - data["yq"])
        t32 = (t31 ** 2.0)
        t33 = jnp.mean(t32)
        return t33
    t34 = jnp.mean(task_terms(task_term_34, theta, data), axis=0)
    return t34


def inner_lr(phi, data):
    """the inner solver's learning rate."""
    # maml_sinusoid.blv:23: gd(lr: 0.01, steps: 1)
    return 0.01


STEPS = 1


def inner_step(state, k, phi, data):
    """Step k (0-based) of the inner solver on the state (theta)."""
    # maml_sinusoid.blv:23: solve inner with gd
    theta = state[0]
    g = jax.grad(inner_loss)(theta, phi, data)
    lr = inner_lr(phi, data)
    return (tmap(lambda x, gx: x - lr * gx, theta, g),)


def inner_state0(phi, data):
    theta = initial_inner(phi, data)
    return (theta,) + tuple(tmap(jnp.zeros_like, theta) for _ in range(0))


def run_steps(state, phi, data, first, last):
    """Inner steps first..last-1 from a state, as one lax.scan."""
    if last <= first:
        return state

    def body(s, k):
        return inner_step(s, k, phi, data), None

    return lax.scan(body, state, jnp.arange(first, last))[0]


def solve_inner(phi, data):
    """Every task's theta after the STEPS inner steps."""
    return over_tasks(lambda d: run_steps(inner_state0(phi, d), phi, d, 0, STEPS)[0], data), STEPS

def inner_residual(theta, phi, data):
    """The largest over tasks of ||grad_theta L_in||."""
    def one(d, th):
        r = flat_inner(jax.grad(inner_loss)(th, phi, d))
        return jnp.sqrt(jnp.dot(r, r))

    return task_max(over_tasks(one, data, theta))


def outer_value_and_grad(theta, phi_flat, data):
    """L_out with its gradients in every task's theta and in phi."""
    return jax.value_and_grad(lambda th, pf: outer_loss(th, unflat_outer(pf), data), argnums=(0, 1))(theta, phi_flat)

def hypergradient(phi_flat, data):
    """unroll(reverse): reverse mode (jax.vjp) through the lax.scan of the inner steps."""
    def bilevel(pf):
        phi = unflat_outer(pf)
        theta = solve_inner(phi, data)[0]
        return outer_loss(theta, phi, data), theta

    loss, pullback, theta = jax.vjp(bilevel, phi_flat, has_aux=True)
    (gradient,) = pullback(jnp.ones_like(loss))
    return dict(loss=loss, gradient=gradient, steps=STEPS, residual=inner_residual(theta, unflat_outer(phi_flat), data))


HYPERGRADIENT = jax.jit(hypergradient)

if __name__ == "__main__":
    sys.exit(main())
