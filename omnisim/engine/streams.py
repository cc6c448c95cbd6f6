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
* **Draws keyed by a supply node**: the dealer network's lead times are counter-based draws
  of the ``supply`` key with the receiving node's name (its CRC-32) in the consumer field and
  the day of the shipment in the journey field (`omnisim.supply.network`), so a node's lead
  times stay paired across strategies whatever the other nodes order; brand replenishment
  (``replenishment.lead_time_days``) stays fixed, so a scenario without a network draws nothing
  from it.
* **Other draws**, not tied to a consumer, come from ordinary numpy ``Generator`` objects
  (`Streams.generator`). The ``social`` generator draws
  the social graph and the KOL followers, and its key the word-of-mouth talks
  (`omnisim.marketing.social`); nothing draws from it without a ``social`` section.

Every key and generator is derived from one ``numpy.random.SeedSequence(seed,
spawn_key=(replication, stream_index))``, so replication ``r`` of a run can be re-run alone and
gives the same numbers on any machine or executor.

The draw functions are compiled with numba: the journey kernel calls them once per draw.
"""

from __future__ import annotations

import numpy as np
from numba import njit

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
    "media",  # the media plan's impressions and clicks (omnisim.marketing.media)
    "social",  # word of mouth: the graph (generator) and talks (counter-based draws)
    "membership",  # the membership programme: initial members' channel, joining at checkout
    "winback",  # customer lifecycle: win-back delay and the returning consumer's next need
    "omnichannel",  # omnichannel fulfilment: pick-up branch of BOPIS, endless-aisle acceptance
)
POPULATION, NEED, SEARCH, CONSIDER, CHOICE, TRAVEL, SERVICE, DELIVERY, REVIEW, SUPPLY, SWITCH = (
    range(11)
)
MEDIA = STREAM_NAMES.index("media")
SOCIAL = STREAM_NAMES.index("social")
MEMBERSHIP = STREAM_NAMES.index("membership")
WINBACK = STREAM_NAMES.index("winback")
OMNICHANNEL = STREAM_NAMES.index("omnichannel")  # omnisim/channels/fulfilment.py

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_INV32 = 1.0 / 4294967296.0
_TWO_PI = 2.0 * np.pi


class Streams:
    """The keys and generators of one replication of one run.

    Args:
        seed: the run's root seed.
        replication: replication index; replication ``r`` has the same streams whatever other
            replications exist.
        salt: 0 (the default) gives every strategy the same streams (common random numbers);
            another value gives a set of streams independent of those, used to run strategies
            on independent streams (``omnisim compare --independent``).
    """

    def __init__(self, seed: int, replication: int, salt: int = 0) -> None:
        self.seed = int(seed)
        self.replication = int(replication)
        self.salt = int(salt)
        self.keys = np.zeros(len(STREAM_NAMES), dtype=np.uint64)
        self._generators: dict[str, np.random.Generator] = {}
        for index, name in enumerate(STREAM_NAMES):
            key = (self.replication, index) if self.salt == 0 else (self.replication, index, salt)
            ss = np.random.SeedSequence(self.seed, spawn_key=key)
            key, gen_seed = ss.generate_state(2, dtype=np.uint64)
            self.keys[index] = key
            self._generators[name] = np.random.Generator(np.random.PCG64(int(gen_seed)))

    def generator(self, name: str) -> np.random.Generator:
        """A numpy Generator for draws that are not tied to a consumer."""
        return self._generators[name]


@njit(cache=True, inline="always")
def _hash(key: np.uint64, cid: int, journey: int, slot: int) -> np.uint64:
    # counter = id (bits 32..63) | journey (bits 8..31) | slot (bits 0..7)
    c = (np.uint64(cid) << np.uint64(32)) | (np.uint64(journey) << np.uint64(8)) | np.uint64(slot)
    z = key + c * _GAMMA
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def uniform(key: np.uint64, cid: int, journey: int, slot: int) -> float:
    """A uniform in (0, 1) for draw ``slot`` of consumer ``cid``'s journey ``journey``."""
    h = _hash(key, cid, journey, slot)
    return (float(h >> np.uint64(32)) + 0.5) * _INV32


@njit(cache=True, inline="always")
def uniform2(key: np.uint64, cid: int, journey: int, slot: int) -> tuple[float, float]:
    """Two independent uniforms in (0, 1) from one hash."""
    h = _hash(key, cid, journey, slot)
    u1 = (float(h >> np.uint64(32)) + 0.5) * _INV32
    u2 = (float(h & np.uint64(0xFFFFFFFF)) + 0.5) * _INV32
    return u1, u2


@njit(cache=True, inline="always")
def normal(key: np.uint64, cid: int, journey: int, slot: int) -> float:
    """A standard normal draw (Box-Muller on the two uniforms of one hash)."""
    u1, u2 = uniform2(key, cid, journey, slot)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(_TWO_PI * u2)


@njit(cache=True)
def gamma(shape: float, key: np.uint64, cid: int, journey: int, slot0: int) -> float:
    """A unit-scale gamma draw by Marsaglia and Tsang's (2000) squeeze method.

    Uses slots ``slot0, slot0 + 1, ...`` (one normal and one uniform per attempt; about 2-5%
    of attempts are rejected). Shapes below 1 use gamma(a) = gamma(a + 1) * U**(1/a)."""
    a = shape if shape >= 1.0 else shape + 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / np.sqrt(9.0 * d)
    slot = slot0
    while True:
        u1, u2 = uniform2(key, cid, journey, slot)
        x = np.sqrt(-2.0 * np.log(u1)) * np.cos(_TWO_PI * u2)
        ua = uniform(key, cid, journey, slot + 1)
        slot += 2
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        if np.log(ua) < 0.5 * x * x + d - d * v + d * np.log(v):
            g = d * v
            break
    if shape < 1.0:
        g *= uniform(key, cid, journey, slot) ** (1.0 / shape)
    return g


@njit(cache=True)
def uniforms(key: np.uint64, ids: np.ndarray, journey: int, slot: int) -> np.ndarray:
    """Vector form of `uniform` for many consumers (population set-up, tests)."""
    out = np.empty(len(ids))
    for k in range(len(ids)):
        out[k] = uniform(key, ids[k], journey, slot)
    return out


@njit(cache=True)
def normals(key: np.uint64, ids: np.ndarray, journey: int, slot: int) -> np.ndarray:
    """Vector form of `normal`."""
    out = np.empty(len(ids))
    for k in range(len(ids)):
        out[k] = normal(key, ids[k], journey, slot)
    return out


@njit(cache=True)
def gammas(shape: float, key: np.uint64, ids: np.ndarray, journey: int, slot0: int) -> np.ndarray:
    """Vector form of `gamma`."""
    out = np.empty(len(ids))
    for k in range(len(ids)):
        out[k] = gamma(shape, key, ids[k], journey, slot0)
    return out
