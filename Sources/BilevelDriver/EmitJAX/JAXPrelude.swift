/// The program-independent part of an emitted module: imports, bilevelc's data generator and CSV/npy readers, functions with bilevelc's derivatives at kinks, layouts and the task vmap.
enum JAXPrelude {
  static let head = #"""
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



    """#
}
