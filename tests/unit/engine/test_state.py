"""Named kernel state (omnisim/engine/state.py): declarations, build, off, and the guarantee
that a run with a mechanism and one without it hand the kernel the same numba type."""

from __future__ import annotations

import re
from typing import NamedTuple

import numba
import numpy as np
import pytest

from omnisim.engine import state as ks
from omnisim.engine.state import F32, I64, Flag, Float, Int


class Inner(NamedTuple):
    rate: Float
    ids: I64[1]


class Outer(NamedTuple):
    on: Flag
    count: Int
    grid: F32[2]
    inner: Inner


def _live() -> Outer:
    inner = ks.build(Inner, rate=2, ids=np.arange(3, dtype=np.int64))
    return ks.build(Outer, on=1, count=4.0, grid=np.zeros((2, 3), np.float32), inner=inner)


def test_build_converts_scalars_to_their_kind() -> None:
    s = _live()
    assert s.on is True and type(s.count) is int and type(s.inner.rate) is float
    assert s.inner.rate == 2.0 and s.count == 4


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("grid", np.zeros((2, 3)), "float32[2-d] expected, got float64[2-d]"),
        ("grid", np.zeros(3, np.float32), "float32[2-d] expected, got float32[1-d]"),
        ("grid", np.zeros((3, 2), np.float32).T, "C-contiguous"),
        ("grid", [[0.0]], "a numpy array expected"),
        ("count", np.zeros(2), "a scalar expected"),
        ("inner", (1.0, np.zeros(1, np.int64)), "Inner expected, got tuple"),
    ],
)
def test_build_refuses_a_field_of_the_wrong_kind(field: str, value: object, message: str) -> None:
    fields = _live()._asdict()
    fields[field] = value
    with pytest.raises(TypeError, match=re.escape(message)) as err:
        ks.build(Outer, **fields)
    assert str(err.value).startswith(f"Outer.{field}: ")


def test_build_refuses_missing_and_unknown_fields() -> None:
    fields = _live()._asdict()
    del fields["count"]
    fields["extra"] = 1.0
    with pytest.raises(TypeError, match=r"missing fields \['count'\], unknown fields \['extra'\]"):
        ks.build(Outer, **fields)


def test_off_is_empty_and_has_the_live_numba_type() -> None:
    off = ks.off(Outer)
    assert off.on is False and off.count == 0 and off.inner.rate == 0.0
    assert off.grid.shape == (0, 0) and off.inner.ids.shape == (0,)
    assert numba.typeof(off) == numba.typeof(_live())
    # Overrides keep the type too.
    assert numba.typeof(ks.off(Outer, count=7)) == numba.typeof(_live())


def test_from_object_reads_attributes_by_name() -> None:
    class Holder:
        rate = 0.5
        ids = np.array([4, 5], dtype=np.int64)

    s = ks.from_object(Inner, Holder())
    assert s.rate == 0.5 and s.ids is Holder.ids
    assert ks.from_object(Inner, Holder(), rate=3.0).rate == 3.0


def test_describe_and_nbytes() -> None:
    assert ks.describe(Outer) == [
        ("on", "bool"),
        ("count", "int64"),
        ("grid", "float32[2-d]"),
        ("inner", "Inner"),
    ]
    assert ks.nbytes(_live()) == 2 * 3 * 4 + 3 * 8


def test_a_field_without_a_kind_is_refused() -> None:
    class Bad(NamedTuple):
        x: int

    with pytest.raises(TypeError, match="annotate with a state kind"):
        ks.off(Bad)


@numba.njit(cache=False)
def _sum_ids(s):
    total = 0
    for v in s.inner.ids:
        total += v
    return total * s.inner.rate if s.on else -1.0


def test_numba_reads_the_fields_by_name() -> None:
    assert _sum_ids(_live()) == 6.0
    assert _sum_ids(ks.off(Outer)) == -1.0


def test_the_kernel_state_is_one_type_with_and_without_mechanisms() -> None:
    """The quickstart (no media, word of mouth, shocks or omnichannel rules) and the media and
    membership example hand the journey kernel states of one numba type: the kernel compiles
    once for both."""
    from pathlib import Path

    from omnisim.scenario.loading import load_scenario
    from omnisim.simulation import Simulation

    root = Path(__file__).resolve().parents[3] / "scenarios"
    types = []
    for name in ("quickstart.yaml", "media_membership.yaml", "pandemic_shift.yaml"):
        sc = load_scenario(root / name)
        sc.market.consumers = min(sc.market.consumers, 2000)
        if sc.social is not None and sc.social.kols is not None:
            sc.social.kols.followers = min(sc.social.kols.followers, 100)
        sim = Simulation(sc, 0, sc.seed)
        types.append(numba.typeof(sim.journey.kernel))
    assert types[0] == types[1] == types[2]
