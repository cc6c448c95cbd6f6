"""Named random streams: reproducible, and aligned across strategies (common random numbers).

Two kinds of randomness are needed:

* **Per-consumer draws** (inter-need times, consideration, choice, service times, ...) come from a
  *counter-based* generator: a draw is a pure function of (stream key, consumer id, journey
  number, slot). Consumer 17's third need interval is the same number under every strategy and
  whatever the other consumers do, so strategy differences are paired draw by draw, not only
  while two runs happen to stay in step. The function is the SplitMix64 output function
  (Steele, Lea and Flood, 2014, "Fast splittable pseudorandom number generators", OOPSLA) applied
  to ``key + golden_gamma * counter``: exactly the SplitMix64 sequence evaluated at an
  arbitrary position, which passes BigCrush. Each 64-bit output gives two 32-bit uniforms.
* **Other draws** (supply lead times, ...) come from ordinary numpy ``Generator`` objects.

Every key and generator is derived from one ``numpy.random.SeedSequence(seed,
spawn_key=(replication, stream_index))``, so replication ``r`` of a run can be re-run alone and
gives the same numbers on any machine or executor.
"""

from __future__ import annotations

import numpy as np
from scipy import special

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
_INV32 = 1.0 / 4294967296.0

# Stream names, in a fixed order: a name's index is part of its seed, so never reorder or
# remove; append new names at the end.
STREAM_NAMES: tuple[str, ...] = (
    "population",
    "need",
    "search",
    "consider",
    "choice",
    "travel",
    "service",
    "delivery",
    "review",
    "supply",
    "switch",
)

# Bits of the counter: consumer id | journey number | slot.
_SLOT_BITS = 8
_JOURNEY_BITS = 24


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


class Streams:
    """All random streams of one replication of one run.

    Args:
        seed: the run's root seed.
        replication: replication index; replication ``r`` has the same streams whatever other
            replications exist.
    """

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = int(seed)
        self.replication = int(replication)
        self._keys: dict[str, np.uint64] = {}
        self._generators: dict[str, np.random.Generator] = {}
        for index, name in enumerate(STREAM_NAMES):
            ss = np.random.SeedSequence(self.seed, spawn_key=(self.replication, index))
            key, gen_seed = ss.generate_state(2, dtype=np.uint64)
            self._keys[name] = np.uint64(key)
            self._generators[name] = np.random.Generator(np.random.PCG64(int(gen_seed)))

    def generator(self, name: str) -> np.random.Generator:
        """A numpy Generator for draws that are not tied to a consumer."""
        return self._generators[name]

    def _bits(
        self, name: str, ids: np.ndarray, journey: np.ndarray | int, slot: np.ndarray | int
    ) -> np.ndarray:
        counter = (
            (ids.astype(np.uint64) << np.uint64(_JOURNEY_BITS + _SLOT_BITS))
            | (np.asarray(journey, dtype=np.uint64) << np.uint64(_SLOT_BITS))
            | np.asarray(slot, dtype=np.uint64)
        )
        with np.errstate(over="ignore"):
            return _mix(self._keys[name] + counter * _GAMMA)

    def uniform(
        self, name: str, ids: np.ndarray, journey: np.ndarray | int, slot: np.ndarray | int = 0
    ) -> np.ndarray:
        """One uniform in (0, 1) per consumer in ``ids``, for draw ``slot`` of ``journey``."""
        h = self._bits(name, ids, journey, slot)
        return ((h >> _S32).astype(np.float64) + 0.5) * _INV32

    def uniform2(
        self, name: str, ids: np.ndarray, journey: np.ndarray | int, slot: np.ndarray | int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Two independent uniforms per consumer from one hash (half the cost of two calls)."""
        h = self._bits(name, ids, journey, slot)
        u1 = ((h >> _S32).astype(np.float64) + 0.5) * _INV32
        u2 = ((h & _LOW32).astype(np.float64) + 0.5) * _INV32
        return u1, u2

    def uniform_matrix(
        self, name: str, ids: np.ndarray, journey: np.ndarray | int, columns: int, slot0: int = 0
    ) -> np.ndarray:
        """A (len(ids), columns) matrix of uniforms using slots slot0, slot0+1, ..."""
        n = len(ids)
        pairs = (columns + 1) // 2
        base = (ids.astype(np.uint64) << np.uint64(_JOURNEY_BITS + _SLOT_BITS)) | (
            np.asarray(journey, dtype=np.uint64) << np.uint64(_SLOT_BITS)
        )
        counter = base[:, None] | (np.uint64(slot0) + np.arange(pairs, dtype=np.uint64))[None, :]
        with np.errstate(over="ignore"):
            h = _mix(self._keys[name] + counter * _GAMMA)
        out = np.empty((n, 2 * pairs), dtype=np.float64)
        out[:, 0::2] = (h >> _S32).astype(np.float64)
        out[:, 1::2] = (h & _LOW32).astype(np.float64)
        out += 0.5
        out *= _INV32
        return out[:, :columns]


def exponential(u: np.ndarray, mean: np.ndarray | float) -> np.ndarray:
    """Inverse-CDF exponential draws of the given mean from uniforms ``u``."""
    return -np.log(u) * mean


def normal(u: np.ndarray) -> np.ndarray:
    """Inverse-CDF standard normal draws from uniforms ``u``."""
    return special.ndtri(u)


def gamma_from_uniforms(
    shape: np.ndarray, u_a: np.ndarray, u_b: np.ndarray, more: callable
) -> np.ndarray:
    """Unit-scale gamma draws by Marsaglia and Tsang's (2000) squeeze method, vectorised.

    ``u_a``/``u_b`` give the normal and the acceptance uniform of the first attempt;
    ``more(k, idx)`` returns two uniform arrays for attempt ``k`` of the elements ``idx`` that
    were rejected so far. Shapes below 1 use the boost gamma(a) = gamma(a + 1) * U**(1/a), with
    the boost uniform taken from attempt number 0 of ``more``. Rejection is rare (about 2-5%), so
    a few attempts finish nearly every element; the last stragglers use the exact inverse CDF.
    """
    a = np.asarray(shape, dtype=np.float64)
    a = np.broadcast_to(a, u_a.shape)
    small = a < 1.0
    a1 = np.where(small, a + 1.0, a)
    d = a1 - 1.0 / 3.0
    c = 1.0 / np.sqrt(9.0 * d)
    out = np.empty_like(u_a)
    todo = np.arange(len(u_a))
    ua, ub = u_a, u_b
    for attempt in range(1, 9):
        x = normal(ua)
        v = (1.0 + c[todo] * x) ** 3
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = (v > 0) & (np.log(ub) < 0.5 * x * x + d[todo] - d[todo] * v + d[todo] * np.log(v))
        out[todo[ok]] = d[todo[ok]] * v[ok]
        todo = todo[~ok]
        if len(todo) == 0:
            break
        ua, ub = more(attempt, todo)
    if len(todo):
        out[todo] = special.gammaincinv(a1[todo], ua)
    if small.any():
        idx = np.flatnonzero(small)
        ub0, _ = more(0, idx)
        out[idx] *= ub0 ** (1.0 / a[idx])
    return out
