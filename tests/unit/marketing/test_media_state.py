"""The media plan's named kernel state: the live and off forms are one numba type, `build`
refuses a wrongly typed field, and no field is left unset."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from omnisim.engine import state as st
from omnisim.marketing import media as md
from omnisim.scenario.loading import scenario_from_dict
from omnisim.simulation import Simulation
from tests.builders import small_market

# Every feature that sizes a state array: awareness, caps (per vehicle and across media),
# targeting, clicks, a livestream schedule, flighting and a search ad.
PLAN = {
    "frequency_cap": {"impressions": 4, "period_days": 2},
    "vehicles": [
        {
            "name": "tv",
            "kind": "tv",
            "cpm": 10.0,
            "daily_budget": 50.0,
            "max_lift": 0.3,
            "frequency_cap": {"impressions": 3, "period_days": 2},
            "targeting": {"a": 1.0, "b": 0.5},
            "channel": "platform",
            "click_through": 0.1,
            "flighting": [{"start_day": 1.0, "end_day": 3.0, "daily_budget": 20.0}],
        },
        {
            "name": "kol",
            "kind": "kol",
            "cpm": 5.0,
            "daily_budget": 5.0,
            "sessions_of": "live",
            "max_lift": 0.0,
        },
        {
            "name": "search",
            "kind": "search",
            "cpm": 50.0,
            "daily_budget": 5.0,
            "channel": "mall",
            "click_through": 0.2,
            "max_lift": 0.0,
        },
    ],
}


def live() -> md.MediaState:
    d = small_market()
    d["media"] = PLAN
    return Simulation(scenario_from_dict(d), 0).media.state()


def test_live_and_off_states_are_one_numba_type():
    state = live()
    assert isinstance(state, md.MediaState)
    assert numba.typeof(state) == numba.typeof(md.off())
    # A plan without clicks, caps or targeting (empty per-consumer arrays) is the same type.
    d = small_market()
    d["media"] = {"vehicles": [{"name": "tv", "kind": "tv", "cpm": 1.0}]}
    bare = Simulation(scenario_from_dict(d), 0).media.state()
    assert numba.typeof(bare) == numba.typeof(state)


def test_live_state_is_laid_out_from_the_plan():
    s = live()
    n = s.adstock.shape[0]
    assert (s.on, s.aware_on, s.clicks_on, s.search_on, s.n_vehicles) == (1, 1, 1, 1, 3)
    assert (s.cross_cap, s.cross_period) == (4, 2.0)
    # consumer_bytes: tv's cap counter, the cross-media counter, the reach mask (2), the
    # referral and the stale counter.
    assert list(s.vehicle.cap_col) == [0, -1, -1]
    assert (s.cross_col, s.reach_col, s.ref_col, s.stale_col) == (1, 2, 4, 5)
    assert s.consumer_bytes.shape == (n, 6)
    assert list(s.vehicle.adstock_col) == [0, -1, -1] and s.adstock.shape == (n, 1)
    assert list(s.vehicle.flight_first) == [0, 1, 2] and len(s.flight.start) == 3
    assert s.flight.budget[0] == 20.0 and s.flight.end[1] == np.inf
    assert len(s.target.members) == n and s.target.seg_start[-1] == n
    assert s.due.shape == (n,) and s.stale_bits.shape == ((n + 7) // 8,)
    assert s.stale.shape == (1,)


def test_off_state_switches_everything_off():
    s = md.off()
    assert (s.on, s.aware_on, s.clicks_on, s.search_on, s.n_vehicles, s.cross_cap) == (0,) * 6
    assert (s.cross_col, s.ref_col, s.stale_col) == (-1, -1, -1)
    assert s.adstock.shape == (0, 0) and s.due.shape == (0,)
    assert md.due_times(s).shape == (0,)
    assert not md.referred(0, 1.0, s)
    assert md.effective_awareness(0, 1.0, np.float32(0.25), s) == 0.25
    assert md.at_decision(0, 1.0, 0, 0, True, True, s) == 0
    assert not md.skip_stale(0, 1.0, md.due_times(s), s)


def test_build_refuses_a_wrongly_typed_field():
    s = live()
    fields = s._asdict()
    with pytest.raises(TypeError, match=r"MediaState\.adstock: float32\[2-d\] expected"):
        st.build(md.MediaState, **{**fields, "adstock": s.adstock.astype(np.float64)})
    with pytest.raises(TypeError, match=r"MediaState\.due: a C-contiguous array"):
        st.build(md.MediaState, **{**fields, "due": np.zeros(10)[::2]})
    v = s.vehicle._asdict()
    with pytest.raises(TypeError, match=r"Vehicles\.cap_col: int64\[1-d\] expected"):
        st.build(md.Vehicles, **{**v, "cap_col": v["cap_col"].astype(np.int32)})
    with pytest.raises(TypeError, match=r"MediaState\.vehicle: Vehicles expected"):
        st.build(md.MediaState, **{**fields, "vehicle": tuple(s.vehicle)})
    with pytest.raises(TypeError, match="missing fields"):
        st.build(md.MediaState, **{k: x for k, x in fields.items() if k != "stale"})
