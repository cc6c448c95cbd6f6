"""The media plan: impressions bought per time bucket, frequency caps, adstock awareness, clicks.

Each vehicle of ``media.vehicles`` buys, at the start of every consumer-clock bucket, the
impressions its budget affords (the fractional remainder carries to the next bucket), and sends
each one to a consumer drawn by its targeting weights from the ``media`` random stream. An
impression that would break the vehicle's or the plan's frequency cap goes to another draw (at
most `ATTEMPTS` draws), else it lapses unpaid. Search ads are served instead inside the
journey's decision, one per search while the day's budget lasts.

Every consumer keeps, per vehicle with an awareness effect, a geometric adstock (Jin et al.
2017) in the form ``S = sum_k exp(+ln2 (t_k - T0) / h)``, rebased now and then, so that no
timestamp is stored per consumer; the effective awareness combines the base awareness with a
Hill curve of each adstock (`effective_awareness`). A click brings a waiting consumer's need
forward to the click time (the old calendar entry becomes stale and is skipped, see ``due``)
and puts the clicked channel into the consideration set of the consumer's next decision.

Everything the kernels read or update is one `MediaState` (`MediaRuntime.state`), ``k.media``
of the journey kernel: the plan's switches and scalars, the per-vehicle table `Vehicles`, the
flighting windows `Flights`, the segment targeting `Targeting`, the window tallies `Tally` and
the per-consumer arrays. Without a media plan it is `off` (empty arrays, zero switches: the
same numba type, so one compiled kernel serves both). Equations: ``docs/model.md``, "Media".
"""

from __future__ import annotations

import math
import zlib
from typing import NamedTuple

import numpy as np
from numba import njit

from omnisim.engine import state as st
from omnisim.engine import streams as rs
from omnisim.engine.buckets import P_DT, insert
from omnisim.engine.prefetch import prefetch
from omnisim.engine.stages import CHURNED, WAIT_NEED
from omnisim.engine.state import F32, F64, I32, I64, U8, U64, Float, Int
from omnisim.scenario.schema import MAX_MEDIA, MediaKind, Scenario

LN2 = math.log(2.0)
ATTEMPTS = 8  # draws per impression before it lapses (frequency caps)
REBASE_EXPONENT = 20.0  # rebase the adstock sums before exp(exponent) passes this
PREFETCH_AHEAD = 8  # impressions whose consumer is requested ahead of use
CLICK_SLOT = ATTEMPTS  # draw slot of a pushed impression's click
SEARCH_CLICK_SLOT = 16  # draw slot of a search ad's click (per consumer and journey)
EXTRA_OCCASION = np.uint8(0x80)  # bit of the referral byte: the click made an extra occasion
STALE_STICKY = 255  # a stale counter this high is no longer counted down: `due` decides


class Vehicles(NamedTuple):
    """The plan's vehicles, entry m for ``media.vehicles[m]``: settings, then what the run
    updates. A column index of -1 means the vehicle has no such column."""

    cost: F64[1]  # money per impression: cpm / 1000 (currency)
    per_money: F64[1]  # impressions per unit of money: 1000 / cpm
    decay: F64[1]  # adstock decay rate: ln2 / half-life (1 / days)
    max_lift: F64[1]  # L: the largest awareness lift (share)
    half_saturation: F64[1]  # K: the adstock of half the lift (impressions)
    hill_shape: F64[1]  # s: the Hill curve's exponent
    ctr: F64[1]  # click-through probability per impression
    incremental: F64[1]  # probability that a click on a waiting consumer is an extra occasion
    cap: I64[1]  # frequency cap: impressions per cap period and consumer
    cap_period: F64[1]  # the frequency cap's period (days)
    # sessions_of: the livestream's schedule the vehicle spends in (every = 0: always on).
    live_every: F64[1]  # days between sessions
    live_start: F64[1]  # first session's start (days)
    live_duration: F64[1]  # session length (days)
    search: I64[1]  # 1: a search ad, served at searches; 0: pushed at bucket starts
    channel: I64[1]  # channel a click puts into consideration (-1: none)
    adstock_col: I64[1]  # column in `MediaState.adstock` (-1: no awareness effect)
    cap_col: I64[1]  # cap counter's column in `MediaState.consumer_bytes` (-1: uncapped)
    flight_first: I64[1]  # first flighting window (index into `MediaState.flight`)
    flight_count: I64[1]  # number of flighting windows
    targeted: I64[1]  # 1: impressions drawn by segment weight x size; 0: uniformly
    key: U64[1]  # random key (`vehicle_key`)
    # Updated as the run goes.
    t0: F64[1]  # the adstock sums' reference time T0 (days; rebased in `start_bucket`)
    carry: F64[1]  # fractional impression carried to the next bucket
    day: F64[1]  # search: the day whose budget `left` is (-1: none yet)
    left: F64[1]  # search: budget left that day (currency)


class Flights(NamedTuple):
    """Flighting windows, vehicle m's being ``flight_first[m]`` on (``flight_count[m]``)."""

    start: F64[1]  # (days)
    end: F64[1]  # (days; inf without flighting)
    budget: F64[1]  # daily budget in the window (currency / day)


class Targeting(NamedTuple):
    """How a targeted vehicle picks consumers: a segment by weight x size, then a member."""

    weight: F64[2]  # vehicle x segment: targeting weight (1 untargeted; 0 never reached)
    cum_mass: F64[2]  # vehicle x segment: cumulated share of weight x size (last = 1)
    members: I32[1]  # consumers sorted by segment (empty when no pushed vehicle is targeted)
    seg_start: I64[1]  # segment s's members are members[seg_start[s] : seg_start[s + 1]]


class Tally(NamedTuple):
    """Per vehicle, in the measurement window."""

    impressions: F64[1]  # delivered impressions
    clicks: F64[1]  # clicks


class MediaState(NamedTuple):
    """The media plan's kernel state (docs/model.md, "Media"). Switches are 1 (on) or 0."""

    on: Int  # 1 with a media plan
    aware_on: Int  # some vehicle has an awareness effect (an adstock column)
    clicks_on: Int  # some vehicle has clicks (referrals, due times, stale entries)
    search_on: Int  # some vehicle is a search ad
    n_vehicles: Int
    cross_cap: Int  # the plan's cap across media: impressions per period (0: none)
    cross_period: Float  # its period (days)
    click_window: Float  # days a click keeps its channel in consideration
    warmup: Float  # the measurement window [warmup, horizon) (days)
    horizon: Float
    # Columns of `consumer_bytes` after the vehicles' cap counters.
    cross_col: Int  # the cross-media cap counter (-1: no cross cap)
    reach_col: Int  # the reach mask: bit m of vehicles 0-7 here, 8-15 in the next column
    ref_col: Int  # the clicked channel + 1 (0: none; -1: no clicks)
    stale_col: Int  # stale calendar entries, saturating at `STALE_STICKY` (-1: no clicks)
    vehicle: Vehicles
    flight: Flights
    target: Targeting
    tally: Tally
    adstock: F32[2]  # consumer x awareness vehicle: the adstock sums (impressions, at T0)
    # Consumer x byte: every byte-sized field of a consumer in one short row, so that a
    # delivery or a decision touches one cache line for them (and one for the adstock row)
    # instead of one per array.
    consumer_bytes: U8[2]
    due: F64[1]  # per consumer: the live calendar time (days; empty without clicks)
    ref_expiry: F32[1]  # per consumer: when the clicked channel leaves consideration (days)
    # One bit per consumer (with clicks): bit i set while consumer i's stale counter is
    # positive. At 1 bit a consumer it stays in cache, so the check at every event
    # (`skip_stale`) seldom has to load the consumer's row or `due`.
    stale_bits: U8[1]
    stale: I64[1]  # [0]: calendar entries made stale by clicks and not yet skipped


def off() -> MediaState:
    """The kernel state without a media plan: every switch 0, empty arrays (the same numba
    type as a plan's)."""
    return st.off(
        MediaState,
        cross_col=-1,
        ref_col=-1,
        stale_col=-1,
        stale=np.zeros(1, dtype=np.int64),
    )


def due_times(state: MediaState) -> np.ndarray:
    """Each consumer's live calendar time in the media state ``state`` (empty when no click
    can leave a stale calendar entry)."""
    return state.due


def bytes_per_consumer(sc: Scenario) -> int:
    """Per-consumer memory of the media plan (bytes; 0 without one): see `MediaRuntime`."""
    plan = sc.media
    if plan is None:
        return 0
    vs = plan.vehicles
    aware = sum(1 for v in vs if v.max_lift > 0)
    capped = sum(1 for v in vs if v.frequency_cap is not None)
    clicks = any(v.click_through > 0 for v in vs)
    targeted = any(v.targeting is not None and v.kind != MediaKind.search for v in vs)
    return (
        4 * aware
        + capped
        + (1 if plan.frequency_cap is not None else 0)
        + 2  # reach mask
        + (8 + 1 + 4 + 1 if clicks else 0)  # due time, referral channel, its expiry, stale count
        + (4 if targeted else 0)  # per-segment member index
    )


def vehicle_key(stream_key: np.uint64, name: str) -> np.uint64:
    """The random key of a vehicle: the media stream's key mixed with a hash of the name, so a
    vehicle draws the same numbers whatever other vehicles the plan has (common random
    numbers across strategies that add or drop vehicles)."""
    return np.uint64(rs._hash(np.uint64(stream_key), zlib.crc32(name.encode("utf-8")), 0, 255))


class MediaRuntime:
    """The media plan of one replication: its tables, per-consumer state and bucket step.

    Args:
        sc: the scenario (``sc.media`` must be set).
        segment: each consumer's segment (`Population.segment`).
        channel_names: the channels in scenario order.
        sessions: the channels' session arrays (every, start, duration; days).
        stream_key: the ``media`` stream's key.
    """

    def __init__(
        self,
        sc: Scenario,
        segment: np.ndarray,
        channel_names: tuple[str, ...],
        sessions: tuple[np.ndarray, np.ndarray, np.ndarray],
        stream_key: np.uint64,
    ) -> None:
        plan = sc.media
        assert plan is not None
        vs = plan.vehicles
        m_n = len(vs)
        if m_n > MAX_MEDIA:
            raise ValueError(f"at most {MAX_MEDIA} media vehicles are supported")
        n = len(segment)
        self.n = n
        self.names = tuple(v.name for v in vs)
        self.cpm = np.array([v.cpm for v in vs])
        self.channel_names = tuple(v.channel for v in vs)
        seg_names = [s.name for s in sc.segments]
        n_seg = len(seg_names)
        sizes = np.bincount(segment, minlength=n_seg).astype(np.float64)
        every, start, duration = sessions
        # Every vehicle field, zero-filled in its declared dtype, then set vehicle by vehicle.
        v = {name: np.zeros(m_n, dtype=k.dtype) for name, k in st.kinds(Vehicles).items()}
        flights: list[tuple[float, float, float]] = []
        weight = np.zeros((m_n, n_seg))
        a_col = c_col = 0
        for m, veh in enumerate(vs):
            v["cost"][m] = veh.cpm / 1000.0
            v["per_money"][m] = 1000.0 / veh.cpm
            v["decay"][m] = LN2 / veh.adstock_half_life_days
            v["max_lift"][m] = veh.max_lift
            v["half_saturation"][m] = veh.half_saturation
            v["hill_shape"][m] = veh.shape
            v["ctr"][m] = veh.click_through
            v["incremental"][m] = veh.incrementality
            v["day"][m] = -1.0
            v["search"][m] = 1 if veh.kind == MediaKind.search else 0
            v["channel"][m] = channel_names.index(veh.channel) if veh.channel is not None else -1
            v["adstock_col"][m] = a_col if veh.max_lift > 0 else -1
            a_col += veh.max_lift > 0
            if veh.frequency_cap is not None:
                v["cap_col"][m] = c_col
                v["cap"][m] = veh.frequency_cap.impressions
                v["cap_period"][m] = veh.frequency_cap.period_days
                c_col += 1
            else:
                v["cap_col"][m] = -1
            if veh.sessions_of is not None:
                ci = channel_names.index(veh.sessions_of)
                v["live_every"][m] = every[ci]
                v["live_start"][m] = start[ci]
                v["live_duration"][m] = duration[ci]
            windows = (
                [(w.start_day, w.end_day, w.daily_budget) for w in veh.flighting]
                if veh.flighting is not None
                else [(0.0, math.inf, veh.daily_budget)]
            )
            v["flight_first"][m] = len(flights)
            v["flight_count"][m] = len(windows)
            flights.extend(windows)
            weight[m] = (
                np.array([veh.targeting.get(s, 0.0) for s in seg_names])
                if veh.targeting is not None
                else np.ones(n_seg)
            )
            v["targeted"][m] = 1 if veh.targeting is not None else 0
            v["key"][m] = vehicle_key(stream_key, veh.name)
        vehicle = st.build(Vehicles, **v)
        # Segment pick of a targeted impression: weight x segment size, cumulated.
        cum_mass = np.zeros((m_n, n_seg))
        for m in range(m_n):
            mass = weight[m] * sizes
            total = mass.sum()
            if total > 0:
                cum_mass[m] = np.cumsum(mass / total)
                cum_mass[m, -1] = 1.0
            # else: no consumer can be reached; the vehicle delivers nothing
        targeted = bool(np.any((vehicle.targeted == 1) & (vehicle.search == 0)))
        clicks = bool(np.any(vehicle.ctr > 0))
        seg_start = np.zeros(max(n_seg, 1) + 1, dtype=np.int64)
        members = np.zeros(0, dtype=np.int32)
        if targeted:
            members = np.argsort(segment, kind="stable").astype(np.int32)
            seg_start = np.zeros(n_seg + 1, dtype=np.int64)
            seg_start[1:] = np.cumsum(sizes.astype(np.int64))
        cross = plan.frequency_cap
        # consumer_bytes: the capped vehicles' counters (columns 0 to c_col - 1), then the
        # columns MediaState names.
        width = c_col
        cross_col = -1
        if cross is not None:
            cross_col = width
            width += 1
        reach_col = width
        width += 2
        ref_col = stale_col = -1
        if clicks:
            ref_col, stale_col = width, width + 1
            width += 2
        self._state = st.build(
            MediaState,
            on=1,
            aware_on=1 if a_col > 0 else 0,
            clicks_on=1 if clicks else 0,
            search_on=1 if np.any(vehicle.search == 1) else 0,
            n_vehicles=m_n,
            cross_cap=cross.impressions if cross is not None else 0,
            cross_period=cross.period_days if cross is not None else 0.0,
            click_window=plan.click_window_days,
            warmup=sc.warmup_days,
            horizon=sc.horizon_days,
            cross_col=cross_col,
            reach_col=reach_col,
            ref_col=ref_col,
            stale_col=stale_col,
            vehicle=vehicle,
            flight=st.build(
                Flights,
                start=np.array([w[0] for w in flights], dtype=np.float64),
                end=np.array([w[1] for w in flights], dtype=np.float64),
                budget=np.array([w[2] for w in flights], dtype=np.float64),
            ),
            target=st.build(
                Targeting, weight=weight, cum_mass=cum_mass, members=members, seg_start=seg_start
            ),
            tally=st.build(Tally, impressions=np.zeros(m_n), clicks=np.zeros(m_n)),
            adstock=np.zeros((n, a_col), dtype=np.float32),
            consumer_bytes=np.zeros((n, width), dtype=np.uint8),
            due=np.full(n, np.inf) if clicks else np.zeros(0),
            ref_expiry=np.zeros(n if clicks else 0, dtype=np.float32),
            stale_bits=np.zeros((n + 7) // 8 if clicks else 0, dtype=np.uint8),
            stale=np.zeros(1, dtype=np.int64),
        )
        # Cap periods the counters were last reset in (per vehicle; across media): read and
        # written by `start_bucket` only, never by the kernels, so kept out of the state.
        self._cap_k = [0] * m_n
        self._cross_k = 0
        # Most impressions a clicking vehicle can buy in one bucket (calendar room, see
        # `start_bucket`).
        dt = sc.engine.bucket_hours / 24.0
        self._click_room = 0
        for m in range(m_n):
            if vehicle.ctr[m] > 0 and vehicle.search[m] == 0:
                f0, fn = vehicle.flight_first[m], vehicle.flight_count[m]
                top = max(w[2] for w in flights[f0 : f0 + fn])
                self._click_room += math.ceil(top * dt * vehicle.per_money[m]) + 1

    # -------------------------------------------------------------- engine hooks

    def state(self) -> MediaState:
        """The media plan's kernel state."""
        return self._state

    @property
    def due(self) -> np.ndarray:
        """Each consumer's live calendar time (empty without clicks: no stale entries)."""
        return self._state.due

    @property
    def stale(self) -> int:
        """Calendar entries made stale by clicks and not yet skipped."""
        return int(self._state.stale[0])

    def start(self, ids: np.ndarray, times: np.ndarray) -> None:
        """The calendar's first entries (`Journey.start`) are the consumers' live times."""
        if len(self.due):
            self.due[ids] = times

    def start_bucket(self, b: int, t0: float, t1: float, stage: np.ndarray, calendar) -> None:
        """Bucket ``[t0, t1)`` begins: reset cap counters at cap-period boundaries, rebase the
        adstock sums, make room in the calendar for click entries, deliver the impressions."""
        md = self._state
        v = md.vehicle
        for m in range(md.n_vehicles):
            col = v.cap_col[m]
            if col >= 0:
                k = math.floor(t0 / v.cap_period[m] + 1e-9)
                if k != self._cap_k[m]:
                    md.consumer_bytes[:, col] = 0
                    self._cap_k[m] = k
            col = v.adstock_col[m]
            if col >= 0 and v.decay[m] * (t1 - v.t0[m]) > REBASE_EXPONENT:
                md.adstock[:, col] *= np.float32(math.exp(-v.decay[m] * (t0 - v.t0[m])))
                v.t0[m] = t0
        if md.cross_cap > 0:
            k = math.floor(t0 / md.cross_period + 1e-9)
            if k != self._cross_k:
                md.consumer_bytes[:, md.cross_col] = 0
                self._cross_k = k
        if md.clicks_on:
            calendar.reserve(self.n + self.stale + self._click_room)
        deliver(b, t0, t1, md, stage, calendar.wheel())

    def effective_awareness(self, base: np.ndarray, t: float) -> np.ndarray:
        """Every consumer's effective awareness at ``t`` (float64)."""
        out = np.empty(len(base))
        awareness_all(t, base, self._state, out)
        return out

    def reach_mask(self) -> np.ndarray:
        """Each consumer's reach mask (uint16; bit m: reached by vehicle m, measurement
        window)."""
        b = self._state.consumer_bytes
        col = self._state.reach_col
        return b[:, col].astype(np.uint16) | (b[:, col + 1].astype(np.uint16) << np.uint16(8))

    def ledger(self) -> dict:
        """The plan's tallies for the ledger (measurement window)."""
        tally = self._state.tally
        reach = self.reach_mask()
        impressions = tally.impressions
        spend = impressions * self.cpm / 1000.0
        reached = [int(np.count_nonzero(reach & np.uint16(1 << m))) for m in range(len(self.names))]
        return {
            "names": list(self.names),
            "spend": spend.tolist(),
            "impressions": impressions.tolist(),
            "clicks": tally.clicks.tolist(),
            "reach": reached,
            "channel": list(self.channel_names),
        }


# ------------------------------------------------------------------------------------------
# Compiled parts. `md` is the `MediaState` of `MediaRuntime.state` (or `off()`).


@njit(cache=True, inline="always", _nrt=False)
def _open_time(x, every, start, dur):
    """Time a session schedule is open in [start, x) (every = 0: always open, from 0)."""
    if every <= 0.0:
        return x
    if x <= start:
        return 0.0
    y = x - start
    k = np.floor(y / every)
    r = y - k * every
    return k * dur + (r if r < dur else dur)


@njit(cache=True, _nrt=False)
def spendable(m, a, b, md):
    """Budget of vehicle ``m`` for [a, b): the flighting rate integrated over the time its
    livestream (if any) is open (currency)."""
    v, fl = md.vehicle, md.flight
    every, start, dur = v.live_every[m], v.live_start[m], v.live_duration[m]
    total = 0.0
    for w in range(v.flight_first[m], v.flight_first[m] + v.flight_count[m]):
        lo = a if a > fl.start[w] else fl.start[w]
        hi = b if b < fl.end[w] else fl.end[w]
        if hi > lo and fl.budget[w] > 0.0:
            total += fl.budget[w] * (
                _open_time(hi, every, start, dur) - _open_time(lo, every, start, dur)
            )
    return total


@njit(cache=True, inline="always", _nrt=False)
def _capped(i, m, md):
    col = md.vehicle.cap_col[m]
    if col >= 0 and md.consumer_bytes[i, col] >= md.vehicle.cap[m]:
        return True
    cross = md.cross_cap
    return cross > 0 and md.consumer_bytes[i, md.cross_col] >= cross


@njit(cache=True, inline="always", _nrt=False)
def _impress(i, m, t, inw, md):
    """Deliver one impression of vehicle ``m`` to consumer ``i`` at ``t``."""
    v = md.vehicle
    col = v.adstock_col[m]
    if col >= 0:
        md.adstock[i, col] += np.float32(np.exp(v.decay[m] * (t - v.t0[m])))
    row = md.consumer_bytes[i]
    col = v.cap_col[m]
    if col >= 0:
        row[col] += np.uint8(1)
    if md.cross_cap > 0:
        row[md.cross_col] += np.uint8(1)
    if inw:
        md.tally.impressions[m] += 1.0
        row[md.reach_col + (m >> 3)] |= np.uint8(1 << (m & 7))


@njit(cache=True, inline="always", _nrt=False)
def _member_slot(m, k, b, attempt, md):
    """Targeted vehicle: position in the member index (consumers sorted by segment) of the
    consumer drawn for impression ``k`` of bucket ``b``, draw ``attempt``."""
    u1, u2 = rs.uniform2(md.vehicle.key[m], k, b, attempt)
    cum = md.target.cum_mass[m]
    s = 0
    while s < cum.shape[0] - 1 and u1 > cum[s]:
        s += 1
    seg_start = md.target.seg_start
    size = seg_start[s + 1] - seg_start[s]
    r = int(u2 * size)
    if r >= size:
        r = size - 1
    return seg_start[s] + r


@njit(cache=True, inline="always", _nrt=False)
def _candidate(m, k, b, attempt, md, n):
    """Consumer drawn for impression ``k`` of bucket ``b``, draw ``attempt``: uniform over all
    consumers, or (targeted) a segment by weight x size, then a uniform member of it."""
    if md.vehicle.targeted[m] == 1:
        return md.target.members[_member_slot(m, k, b, attempt, md)]
    u1, _ = rs.uniform2(md.vehicle.key[m], k, b, attempt)
    i = int(u1 * n)
    return i if i < n else n - 1


@njit(cache=True, _nrt=False)
def deliver(b, t0, t1, md, stage, wheel):
    """Buy and deliver every pushed vehicle's impressions of bucket ``b`` = [t0, t1), all dated
    ``t0``; clicks bring waiting consumers' needs forward into ``wheel`` (the calendar)."""
    v = md.vehicle
    cum_mass = md.target.cum_mass
    n = stage.shape[0]
    inw = md.warmup <= t0 < md.horizon
    # Clicks are dated t0 nudged up by rounding steps until the calendar files them in bucket
    # b (b * dt / dt can round below b), which is popped after this delivery.
    tc = t0
    while int(tc / wheel.params[P_DT]) < b:
        tc = np.nextafter(tc, np.inf)
    for m in range(md.n_vehicles):
        if v.search[m] or cum_mass[m, cum_mass.shape[1] - 1] <= 0.0:
            continue
        x = v.carry[m] + spendable(m, t0, t1, md) * v.per_money[m]
        n_imp = int(np.floor(x))
        v.carry[m] = x - n_imp
        ctr = v.ctr[m]
        key = v.key[m]
        # The vehicle's settings, read once per bucket.
        a_col, c_col, cap = v.adstock_col[m], v.cap_col[m], v.cap[m]
        boost = np.float32(np.exp(v.decay[m] * (t0 - v.t0[m]))) if a_col >= 0 else 0
        adstock, bytes_ = md.adstock, md.consumer_bytes
        cross_cap, b_cross = md.cross_cap, md.cross_col
        b_reach = md.reach_col + (m >> 3)
        bit = np.uint8(1 << (m & 7))
        delivered = 0
        targeted = v.targeted[m] == 1
        for k in range(n_imp):
            if targeted and k + 2 * PREFETCH_AHEAD < n_imp:
                prefetch(md.target.members, _member_slot(m, k + 2 * PREFETCH_AHEAD, b, 0, md))
            if k + PREFETCH_AHEAD < n_imp:
                j = _candidate(m, k + PREFETCH_AHEAD, b, 0, md, n)
                if a_col >= 0:
                    prefetch(adstock, j)
                prefetch(bytes_, j)
            for attempt in range(ATTEMPTS):
                i = _candidate(m, k, b, attempt, md, n)
                row = bytes_[i]
                if c_col >= 0 and row[c_col] >= cap:
                    continue
                if cross_cap > 0 and row[b_cross] >= cross_cap:
                    continue
                # Deliver (as `_impress`, with the vehicle's settings hoisted).
                if a_col >= 0:
                    adstock[i, a_col] += boost
                if c_col >= 0:
                    row[c_col] += np.uint8(1)
                if cross_cap > 0:
                    row[b_cross] += np.uint8(1)
                if inw:
                    delivered += 1
                    row[b_reach] |= bit
                if ctr > 0.0:
                    u_click, u_extra = rs.uniform2(key, k, b, CLICK_SLOT)
                    if u_click < ctr:
                        _click(i, m, tc, inw, u_extra < v.incremental[m], md, stage, wheel)
                break
        md.tally.impressions[m] += delivered


@njit(cache=True, inline="always", _nrt=False)
def _click(i, m, t, inw, extra, md, stage, wheel):
    """Consumer ``i`` clicks vehicle ``m``'s impression at ``t`` (a bucket start); a waiting
    consumer's need comes now, as an extra occasion if ``extra``, else pulled forward (the
    need stage tells them apart: `extra_occasion`)."""
    if stage[i] == CHURNED:
        return
    if inw:
        md.tally.clicks[m] += 1.0
    row = md.consumer_bytes[i]
    row[md.ref_col] = np.uint8(md.vehicle.channel[m] + 1)
    md.ref_expiry[i] = t + md.click_window
    if stage[i] == WAIT_NEED:
        due = md.due
        d = due[i]
        if d != t:  # the need comes now; a pending entry later on becomes stale
            if t < d < md.horizon:
                md.stale[0] += 1
                if row[md.stale_col] < STALE_STICKY:
                    row[md.stale_col] += np.uint8(1)
                md.stale_bits[i >> 3] |= np.uint8(1 << (i & 7))
            due[i] = t
            insert(wheel, i, t)
            if extra:
                row[md.ref_col] |= EXTRA_OCCASION


@njit(cache=True, inline="always", _nrt=False)
def referred(i, t, md):
    """Whether consumer ``i`` clicked an ad within the click window before ``t``."""
    if md.clicks_on == 0:
        return False
    return md.consumer_bytes[i, md.ref_col] > 0 and t <= md.ref_expiry[i]


@njit(cache=True, inline="always", _nrt=False)
def extra_occasion(i, md):
    """Whether consumer ``i``'s need, which a click brought before its renewal epoch, is an
    extra occasion (the click's incrementality draw) rather than the next need pulled
    forward; clears the mark."""
    if md.clicks_on == 0:
        return False
    row = md.consumer_bytes[i]
    mark = row[md.ref_col]
    if mark & EXTRA_OCCASION == 0:
        return False
    row[md.ref_col] = mark & np.uint8(0x7F)
    return True


@njit(cache=True, inline="always", _nrt=False)
def effective_awareness(i, t, a, md):
    """a_eff = 1 - (1 - a) prod_m (1 - L_m H_m(A_im(t))), H(A) = A^s / (A^s + K^s)."""
    base = float(a)
    if md.aware_on == 0:
        return base
    v, adstock = md.vehicle, md.adstock
    keep = 1.0
    for m in range(md.n_vehicles):
        col = v.adstock_col[m]
        if col < 0:
            continue
        s = adstock[i, col]
        if s <= 0.0:
            continue
        stock = s * np.exp(-v.decay[m] * (t - v.t0[m]))
        keep *= 1.0 - v.max_lift[m] * _hill(stock, v.half_saturation[m], v.hill_shape[m])
    if keep == 1.0:
        return base
    return 1.0 - (1.0 - base) * keep


@njit(cache=True, inline="always", _nrt=False)
def _hill(stock, half, shape):
    """H(A) = A^s / (A^s + K^s), in a form safe for A = 0 and huge A (1 / (1 + (K/A)^s))."""
    if stock <= 0.0:
        return 0.0
    if shape == 1.0:
        return stock / (stock + half)
    return 1.0 / (1.0 + (half / stock) ** shape)


@njit(cache=True)
def awareness_all(t, base, md, out):
    """`effective_awareness` of every consumer at ``t`` (the decay factors computed once)."""
    v, adstock = md.vehicle, md.adstock
    n_m = md.n_vehicles
    cols = np.empty(n_m, dtype=np.int64)
    factor = np.empty(n_m)
    for m in range(n_m):
        cols[m] = v.adstock_col[m]
        factor[m] = np.exp(-v.decay[m] * (t - v.t0[m]))
    for i in range(base.shape[0]):
        keep = 1.0
        for m in range(n_m):
            col = cols[m]
            if col < 0:
                continue
            s = adstock[i, col]
            if s > 0.0:
                hill = _hill(s * factor[m], v.half_saturation[m], v.hill_shape[m])
                keep *= 1.0 - v.max_lift[m] * hill
        a = float(base[i])
        out[i] = a if keep == 1.0 else 1.0 - (1.0 - a) * keep


@njit(cache=True, inline="always", _nrt=False)
def at_decision(i, t, j, s, first, inw, md):
    """Media at a consumer's decision: serve the search ads (first decision of a journey only),
    and return the channels put into the consideration set as a bit mask (bit c: channel c),
    from a clicked search ad or a recent click on a pushed ad."""
    forced = 0
    if first and md.search_on:
        v = md.vehicle
        for m in range(md.n_vehicles):
            if v.search[m] == 0 or md.target.weight[m, s] <= 0.0:
                continue
            if v.live_every[m] > 0.0:
                since = t - v.live_start[m]
                if since < 0.0 or since % v.live_every[m] >= v.live_duration[m]:
                    continue
            day = np.floor(t)
            if v.day[m] != day:
                v.day[m] = day
                v.left[m] = spendable(m, day, day + 1.0, md)
            cost = v.cost[m]
            if v.left[m] < cost * (1.0 - 1e-9) or _capped(i, m, md):
                continue
            v.left[m] -= cost
            _impress(i, m, t, inw, md)
            ctr = v.ctr[m]
            if ctr > 0.0 and rs.uniform(v.key[m], i, j, SEARCH_CLICK_SLOT) < ctr:
                if inw:
                    md.tally.clicks[m] += 1.0
                forced |= 1 << v.channel[m]
    if md.clicks_on:
        row = md.consumer_bytes[i]
        ref = (int(row[md.ref_col]) & 0x7F) - 1
        if ref >= 0:
            if t <= md.ref_expiry[i]:
                forced |= 1 << ref
            row[md.ref_col] = np.uint8(0)
    return forced


@njit(cache=True, inline="always", _nrt=False)
def skip_stale(i, t, due, md):
    """Whether a calendar entry (i, t) is stale (a click brought the consumer's need
    forward); counts it off."""
    if md.aware_on:  # the decision or need about to run may read the adstock row
        prefetch(md.adstock, i)
    if due.shape[0] == 0:
        return False
    # Only a consumer with a stale entry counted in `_click` can have one: for the others
    # (most events) neither their row nor `due` is read, each would be a cache miss.
    bits = md.stale_bits
    if (bits[i >> 3] >> (i & 7)) & 1 == 0 or due[i] == t:
        return False
    md.stale[0] -= 1
    row = md.consumer_bytes[i]
    n_stale = row[md.stale_col]
    if n_stale < STALE_STICKY:
        n_stale -= np.uint8(1)
        row[md.stale_col] = n_stale
        if n_stale == 0:
            bits[i >> 3] &= np.uint8(~(1 << (i & 7)) & 0xFF)
    return True
