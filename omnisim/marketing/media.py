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

Everything the kernels read or update is one tuple (`MediaRuntime.arrays`), ``ctx[12]`` of the
journey kernel; without a media plan it is `off_arrays` (empty arrays, the same types, so one
compiled kernel serves both). Equations: ``docs/model.md``, "Media".
"""

from __future__ import annotations

import math
import zlib

import numpy as np
from numba import njit

from omnisim.consumers.population import CHURNED, WAIT_NEED
from omnisim.engine import streams as rs
from omnisim.engine.buckets import P_DT, insert
from omnisim.engine.prefetch import prefetch
from omnisim.scenario.schema import MAX_MEDIA, MediaKind, Scenario

LN2 = math.log(2.0)
ATTEMPTS = 8  # draws per impression before it lapses (frequency caps)
REBASE_EXPONENT = 20.0  # rebase the adstock sums before exp(exponent) passes this
PREFETCH_AHEAD = 8  # impressions whose consumer is requested ahead of use
CLICK_SLOT = ATTEMPTS  # draw slot of a pushed impression's click
SEARCH_CLICK_SLOT = 16  # draw slot of a search ad's click (per consumer and journey)

# Tuple layout (ctx[12]).
(
    INFO,
    FPAR,
    IPAR,
    KEYS,
    FLIGHT,
    CUMW,
    SEGW,
    MEMBERS,
    SEG_OFF,
    ADSTOCK,
    BYTES,
    DUE,
    REF_EXPIRY,
    TALLY,
    GPAR,
    STALE_BITS,
) = range(16)
# INFO (int64): switches and counters, and the columns of BYTES.
(
    I_ON,
    I_AWARE_ON,
    I_CLICKS_ON,
    I_SEARCH_ON,
    I_STALE,
    I_N,
    I_CROSS_CAP,
    I_CROSS_K,
    I_B_CROSS,  # cross-media cap counter (-1: no cross cap)
    I_B_REACH,  # reach mask: bits 0-7 in this column, 8-15 in the next
    I_B_REF,  # referred channel + 1 (0: none; -1: no clicks)
    I_B_STALE,  # stale calendar entries of the consumer, saturating at 255 (-1: no clicks)
) = range(12)
# BYTES (uint8, one row per consumer): the vehicles' frequency-cap counters (column I_CCOL of
# each capped vehicle), then the columns named in INFO. One short row holds every byte-sized
# counter of a consumer, so that a delivery or a decision touches one cache line for them
# (and one for the adstock row) instead of one per array.
STALE_STICKY = 255  # a stale counter this high is no longer counted down: `due` decides
# STALE_BITS (uint8, one bit per consumer, with clicks): bit i set while consumer i's stale
# counter is positive. At 1 bit a consumer it stays in cache, so the check at every event
# (`skip_stale`) seldom has to load the consumer's row or `due`.
# FPAR (float64, one row per vehicle).
(
    F_COST,  # cpm / 1000: money per impression
    F_PER_MONEY,  # 1000 / cpm: impressions per unit of money
    F_DECAY,  # ln2 / half-life (1 / days)
    F_LIFT,
    F_HALF,
    F_SHAPE,
    F_CTR,
    F_T0,  # adstock reference time
    F_CARRY,  # fractional impression carried to the next bucket
    F_DAY,  # search: the day whose budget F_LEFT is
    F_LEFT,  # search: budget left today
    F_CAP_PERIOD,
    F_S_EVERY,  # sessions_of: the livestream schedule (every = 0: always on)
    F_S_START,
    F_S_DUR,
) = range(15)
# IPAR (int64, one row per vehicle).
I_SEARCH, I_CHANNEL, I_ACOL, I_CCOL, I_CAP, I_CAP_K, I_F0, I_FN, I_TARGETED = range(9)
# TALLY columns (measurement window only).
T_IMPRESSIONS, T_CLICKS = range(2)
# GPAR (float64).
G_CLICK_WINDOW, G_CROSS_PERIOD, G_HORIZON, G_WARMUP = range(4)


def _empty_tables(n_seg: int) -> tuple:
    return (
        np.array([0, 0, 0, 0, 0, 0, 0, 0, -1, 0, -1, -1], dtype=np.int64),
        np.zeros((0, 15)),
        np.zeros((0, 9), dtype=np.int64),
        np.zeros(0, dtype=np.uint64),
        np.zeros((0, 3)),
        np.zeros((0, max(n_seg, 1))),
        np.zeros((0, max(n_seg, 1))),
        np.zeros(0, dtype=np.int32),
        np.zeros(max(n_seg, 1) + 1, dtype=np.int64),
        np.zeros((0, 0), dtype=np.float32),
        np.zeros((0, 0), dtype=np.uint8),
        np.zeros(0),
        np.zeros(0, dtype=np.float32),
        np.zeros((0, 2)),
        np.zeros(4),
        np.zeros(0, dtype=np.uint8),
    )


def off() -> tuple:
    """The kernel state without a media plan: empty arrays of the same types (every switch
    off)."""
    return _empty_tables(1)


def due_times(state: tuple) -> np.ndarray:
    """Each consumer's live calendar time in the media state ``state`` (empty when no click
    can leave a stale calendar entry)."""
    return state[DUE]


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
        t = list(_empty_tables(n_seg))
        fpar = np.zeros((m_n, 15))
        ipar = np.zeros((m_n, 9), dtype=np.int64)
        flights: list[tuple[float, float, float]] = []
        segw = np.zeros((m_n, n_seg))
        sizes = np.bincount(segment, minlength=n_seg).astype(np.float64)
        a_col = c_col = 0
        every, start, duration = sessions
        for m, v in enumerate(vs):
            fpar[m, F_COST] = v.cpm / 1000.0
            fpar[m, F_PER_MONEY] = 1000.0 / v.cpm
            fpar[m, F_DECAY] = LN2 / v.adstock_half_life_days
            fpar[m, F_LIFT] = v.max_lift
            fpar[m, F_HALF] = v.half_saturation
            fpar[m, F_SHAPE] = v.shape
            fpar[m, F_CTR] = v.click_through
            fpar[m, F_DAY] = -1.0
            ipar[m, I_SEARCH] = 1 if v.kind == MediaKind.search else 0
            ipar[m, I_CHANNEL] = channel_names.index(v.channel) if v.channel is not None else -1
            ipar[m, I_ACOL] = a_col if v.max_lift > 0 else -1
            a_col += v.max_lift > 0
            if v.frequency_cap is not None:
                ipar[m, I_CCOL] = c_col
                ipar[m, I_CAP] = v.frequency_cap.impressions
                fpar[m, F_CAP_PERIOD] = v.frequency_cap.period_days
                c_col += 1
            else:
                ipar[m, I_CCOL] = -1
            ipar[m, I_CAP_K] = 0
            if v.sessions_of is not None:
                ci = channel_names.index(v.sessions_of)
                fpar[m, F_S_EVERY] = every[ci]
                fpar[m, F_S_START] = start[ci]
                fpar[m, F_S_DUR] = duration[ci]
            windows = (
                [(w.start_day, w.end_day, w.daily_budget) for w in v.flighting]
                if v.flighting is not None
                else [(0.0, math.inf, v.daily_budget)]
            )
            ipar[m, I_F0] = len(flights)
            ipar[m, I_FN] = len(windows)
            flights.extend(windows)
            weights = (
                np.array([v.targeting.get(s, 0.0) for s in seg_names])
                if v.targeting is not None
                else np.ones(n_seg)
            )
            segw[m] = weights
            ipar[m, I_TARGETED] = 1 if v.targeting is not None else 0
        # Segment pick of a targeted impression: weight x segment size, cumulated.
        cumw = np.zeros((m_n, n_seg))
        for m in range(m_n):
            mass = segw[m] * sizes
            total = mass.sum()
            if total > 0:
                cumw[m] = np.cumsum(mass / total)
                cumw[m, -1] = 1.0
            # else: no consumer can be reached; the vehicle delivers nothing
        targeted = bool(np.any((ipar[:, I_TARGETED] == 1) & (ipar[:, I_SEARCH] == 0)))
        clicks = bool(np.any(fpar[:, F_CTR] > 0))
        cross = plan.frequency_cap
        info = t[INFO]
        info[I_ON] = 1
        info[I_AWARE_ON] = 1 if a_col > 0 else 0
        info[I_CLICKS_ON] = 1 if clicks else 0
        info[I_SEARCH_ON] = 1 if np.any(ipar[:, I_SEARCH] == 1) else 0
        info[I_N] = m_n
        info[I_CROSS_CAP] = cross.impressions if cross is not None else 0
        t[FPAR], t[IPAR] = fpar, ipar
        t[KEYS] = np.array([vehicle_key(stream_key, v.name) for v in vs], dtype=np.uint64)
        t[FLIGHT] = np.array(flights, dtype=np.float64).reshape(len(flights), 3)
        t[CUMW], t[SEGW] = cumw, segw
        if targeted:
            t[MEMBERS] = np.argsort(segment, kind="stable").astype(np.int32)
            off = np.zeros(n_seg + 1, dtype=np.int64)
            off[1:] = np.cumsum(sizes.astype(np.int64))
            t[SEG_OFF] = off
        t[ADSTOCK] = np.zeros((n, a_col), dtype=np.float32)
        width = c_col
        if cross is not None:
            info[I_B_CROSS] = width
            width += 1
        info[I_B_REACH] = width
        width += 2
        if clicks:
            info[I_B_REF] = width
            info[I_B_STALE] = width + 1
            width += 2
        t[BYTES] = np.zeros((n, width), dtype=np.uint8)
        if clicks:
            t[DUE] = np.full(n, np.inf)
            t[REF_EXPIRY] = np.zeros(n, dtype=np.float32)
            t[STALE_BITS] = np.zeros((n + 7) // 8, dtype=np.uint8)
        t[TALLY] = np.zeros((m_n, 2))
        t[GPAR] = np.array(
            [
                plan.click_window_days,
                cross.period_days if cross is not None else 0.0,
                sc.horizon_days,
                sc.warmup_days,
            ]
        )
        self.arrays = tuple(t)
        # Most impressions a clicking vehicle can buy in one bucket (calendar room, see
        # `start_bucket`).
        dt = sc.engine.bucket_hours / 24.0
        self._click_room = 0
        for m in range(m_n):
            if fpar[m, F_CTR] > 0 and ipar[m, I_SEARCH] == 0:
                f0, fn = ipar[m, I_F0], ipar[m, I_FN]
                top = max(w[2] for w in flights[f0 : f0 + fn])
                self._click_room += math.ceil(top * dt * fpar[m, F_PER_MONEY]) + 1

    # -------------------------------------------------------------- engine hooks

    def state(self) -> tuple:
        """The media plan's kernel state."""
        return self.arrays

    @property
    def due(self) -> np.ndarray:
        """Each consumer's live calendar time (empty without clicks: no stale entries)."""
        return self.arrays[DUE]

    @property
    def stale(self) -> int:
        """Calendar entries made stale by clicks and not yet skipped."""
        return int(self.arrays[INFO][I_STALE])

    def start(self, ids: np.ndarray, times: np.ndarray) -> None:
        """The calendar's first entries (`Journey.start`) are the consumers' live times."""
        if len(self.due):
            self.due[ids] = times

    def start_bucket(self, b: int, t0: float, t1: float, stage: np.ndarray, calendar) -> None:
        """Bucket ``[t0, t1)`` begins: reset cap counters at cap-period boundaries, rebase the
        adstock sums, make room in the calendar for click entries, deliver the impressions."""
        a = self.arrays
        info, fpar, ipar, gpar = a[INFO], a[FPAR], a[IPAR], a[GPAR]
        for m in range(int(info[I_N])):
            col = ipar[m, I_CCOL]
            if col >= 0:
                k = math.floor(t0 / fpar[m, F_CAP_PERIOD] + 1e-9)
                if k != ipar[m, I_CAP_K]:
                    a[BYTES][:, col] = 0
                    ipar[m, I_CAP_K] = k
            col = ipar[m, I_ACOL]
            if col >= 0 and fpar[m, F_DECAY] * (t1 - fpar[m, F_T0]) > REBASE_EXPONENT:
                a[ADSTOCK][:, col] *= np.float32(math.exp(-fpar[m, F_DECAY] * (t0 - fpar[m, F_T0])))
                fpar[m, F_T0] = t0
        if info[I_CROSS_CAP] > 0:
            k = math.floor(t0 / gpar[G_CROSS_PERIOD] + 1e-9)
            if k != info[I_CROSS_K]:
                a[BYTES][:, info[I_B_CROSS]] = 0
                info[I_CROSS_K] = k
        if info[I_CLICKS_ON]:
            calendar.reserve(self.n + int(info[I_STALE]) + self._click_room)
        deliver(b, t0, t1, a, stage, calendar.wheel())

    def effective_awareness(self, base: np.ndarray, t: float) -> np.ndarray:
        """Every consumer's effective awareness at ``t`` (float64)."""
        out = np.empty(len(base))
        awareness_all(t, base, self.arrays, out)
        return out

    def reach_mask(self) -> np.ndarray:
        """Each consumer's reach mask (uint16; bit m: reached by vehicle m, measurement
        window)."""
        b = self.arrays[BYTES]
        col = int(self.arrays[INFO][I_B_REACH])
        return b[:, col].astype(np.uint16) | (b[:, col + 1].astype(np.uint16) << np.uint16(8))

    def ledger(self) -> dict:
        """The plan's tallies for the ledger (measurement window)."""
        tally = self.arrays[TALLY]
        reach = self.reach_mask()
        impressions = tally[:, T_IMPRESSIONS]
        spend = impressions * self.cpm / 1000.0
        reached = [int(np.count_nonzero(reach & np.uint16(1 << m))) for m in range(len(self.names))]
        return {
            "names": list(self.names),
            "spend": spend.tolist(),
            "impressions": impressions.tolist(),
            "clicks": tally[:, T_CLICKS].tolist(),
            "reach": reached,
            "channel": list(self.channel_names),
        }


# ------------------------------------------------------------------------------------------
# Compiled parts. `md` is the tuple `MediaRuntime.arrays` (or `off_arrays()`).


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
    fpar, ipar, flight = md[FPAR], md[IPAR], md[FLIGHT]
    ev, st, du = fpar[m, F_S_EVERY], fpar[m, F_S_START], fpar[m, F_S_DUR]
    total = 0.0
    for w in range(ipar[m, I_F0], ipar[m, I_F0] + ipar[m, I_FN]):
        lo = a if a > flight[w, 0] else flight[w, 0]
        hi = b if b < flight[w, 1] else flight[w, 1]
        if hi > lo and flight[w, 2] > 0.0:
            total += flight[w, 2] * (_open_time(hi, ev, st, du) - _open_time(lo, ev, st, du))
    return total


@njit(cache=True, inline="always", _nrt=False)
def _capped(i, m, md):
    ipar, info = md[IPAR], md[INFO]
    col = ipar[m, I_CCOL]
    if col >= 0 and md[BYTES][i, col] >= ipar[m, I_CAP]:
        return True
    cross = info[I_CROSS_CAP]
    return cross > 0 and md[BYTES][i, info[I_B_CROSS]] >= cross


@njit(cache=True, inline="always", _nrt=False)
def _impress(i, m, t, inw, md):
    """Deliver one impression of vehicle ``m`` to consumer ``i`` at ``t``."""
    fpar, ipar = md[FPAR], md[IPAR]
    col = ipar[m, I_ACOL]
    if col >= 0:
        md[ADSTOCK][i, col] += np.float32(np.exp(fpar[m, F_DECAY] * (t - fpar[m, F_T0])))
    info, row = md[INFO], md[BYTES][i]
    col = ipar[m, I_CCOL]
    if col >= 0:
        row[col] += np.uint8(1)
    if info[I_CROSS_CAP] > 0:
        row[info[I_B_CROSS]] += np.uint8(1)
    if inw:
        md[TALLY][m, T_IMPRESSIONS] += 1.0
        row[info[I_B_REACH] + (m >> 3)] |= np.uint8(1 << (m & 7))


@njit(cache=True, inline="always", _nrt=False)
def _member_slot(m, k, b, attempt, md):
    """Targeted vehicle: position in the member index (consumers sorted by segment) of the
    consumer drawn for impression ``k`` of bucket ``b``, draw ``attempt``."""
    u1, u2 = rs.uniform2(md[KEYS][m], k, b, attempt)
    cum = md[CUMW][m]
    s = 0
    while s < cum.shape[0] - 1 and u1 > cum[s]:
        s += 1
    off = md[SEG_OFF]
    size = off[s + 1] - off[s]
    r = int(u2 * size)
    if r >= size:
        r = size - 1
    return off[s] + r


@njit(cache=True, inline="always", _nrt=False)
def _candidate(m, k, b, attempt, md, n):
    """Consumer drawn for impression ``k`` of bucket ``b``, draw ``attempt``: uniform over all
    consumers, or (targeted) a segment by weight x size, then a uniform member of it."""
    if md[IPAR][m, I_TARGETED] == 1:
        return md[MEMBERS][_member_slot(m, k, b, attempt, md)]
    u1, _ = rs.uniform2(md[KEYS][m], k, b, attempt)
    i = int(u1 * n)
    return i if i < n else n - 1


@njit(cache=True, _nrt=False)
def deliver(b, t0, t1, md, stage, wheel):
    """Buy and deliver every pushed vehicle's impressions of bucket ``b`` = [t0, t1), all dated
    ``t0``; clicks bring waiting consumers' needs forward into ``wheel`` (the calendar)."""
    info, fpar, ipar, gpar = md[INFO], md[FPAR], md[IPAR], md[GPAR]
    n = stage.shape[0]
    inw = gpar[G_WARMUP] <= t0 < gpar[G_HORIZON]
    # Clicks are dated t0 nudged up by rounding steps until the calendar files them in bucket
    # b (b * dt / dt can round below b), which is popped after this delivery.
    tc = t0
    while int(tc / wheel[-1][P_DT]) < b:
        tc = np.nextafter(tc, np.inf)
    for m in range(info[I_N]):
        if ipar[m, I_SEARCH] or md[CUMW][m, md[CUMW].shape[1] - 1] <= 0.0:
            continue
        x = fpar[m, F_CARRY] + spendable(m, t0, t1, md) * fpar[m, F_PER_MONEY]
        n_imp = int(np.floor(x))
        fpar[m, F_CARRY] = x - n_imp
        ctr = fpar[m, F_CTR]
        key = md[KEYS][m]
        # The vehicle's settings, read once per bucket.
        a_col, c_col, cap = ipar[m, I_ACOL], ipar[m, I_CCOL], ipar[m, I_CAP]
        boost = np.float32(np.exp(fpar[m, F_DECAY] * (t0 - fpar[m, F_T0]))) if a_col >= 0 else 0
        adstock, bytes_ = md[ADSTOCK], md[BYTES]
        cross_cap, b_cross = info[I_CROSS_CAP], info[I_B_CROSS]
        b_reach = info[I_B_REACH] + (m >> 3)
        bit = np.uint8(1 << (m & 7))
        delivered = 0
        targeted = ipar[m, I_TARGETED] == 1
        for k in range(n_imp):
            if targeted and k + 2 * PREFETCH_AHEAD < n_imp:
                prefetch(md[MEMBERS], _member_slot(m, k + 2 * PREFETCH_AHEAD, b, 0, md))
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
                if ctr > 0.0 and rs.uniform(key, k, b, CLICK_SLOT) < ctr:
                    _click(i, m, tc, inw, md, stage, wheel)
                break
        md[TALLY][m, T_IMPRESSIONS] += delivered


@njit(cache=True, inline="always", _nrt=False)
def _click(i, m, t, inw, md, stage, wheel):
    """Consumer ``i`` clicks vehicle ``m``'s impression at ``t`` (a bucket start)."""
    if stage[i] == CHURNED:
        return
    if inw:
        md[TALLY][m, T_CLICKS] += 1.0
    info, row = md[INFO], md[BYTES][i]
    row[info[I_B_REF]] = np.uint8(md[IPAR][m, I_CHANNEL] + 1)
    md[REF_EXPIRY][i] = t + md[GPAR][G_CLICK_WINDOW]
    if stage[i] == WAIT_NEED:
        due = md[DUE]
        d = due[i]
        if d != t:  # the need comes now; a pending entry later on becomes stale
            if t < d < md[GPAR][G_HORIZON]:
                info[I_STALE] += 1
                if row[info[I_B_STALE]] < STALE_STICKY:
                    row[info[I_B_STALE]] += np.uint8(1)
                md[STALE_BITS][i >> 3] |= np.uint8(1 << (i & 7))
            due[i] = t
            insert(wheel, i, t)


@njit(cache=True, inline="always", _nrt=False)
def referred(i, t, md):
    """Whether consumer ``i`` clicked an ad within the click window before ``t``."""
    info = md[INFO]
    if info[I_CLICKS_ON] == 0:
        return False
    return md[BYTES][i, info[I_B_REF]] > 0 and t <= md[REF_EXPIRY][i]


@njit(cache=True, inline="always", _nrt=False)
def effective_awareness(i, t, a, md):
    """a_eff = 1 - (1 - a) prod_m (1 - L_m H_m(A_im(t))), H(A) = A^s / (A^s + K^s)."""
    base = float(a)
    if md[INFO][I_AWARE_ON] == 0:
        return base
    fpar, ipar, adstock = md[FPAR], md[IPAR], md[ADSTOCK]
    keep = 1.0
    for m in range(md[INFO][I_N]):
        col = ipar[m, I_ACOL]
        if col < 0:
            continue
        s = adstock[i, col]
        if s <= 0.0:
            continue
        stock = s * np.exp(-fpar[m, F_DECAY] * (t - fpar[m, F_T0]))
        keep *= 1.0 - fpar[m, F_LIFT] * _hill(stock, fpar[m, F_HALF], fpar[m, F_SHAPE])
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
    info, fpar, ipar, adstock = md[INFO], md[FPAR], md[IPAR], md[ADSTOCK]
    n_m = info[I_N]
    cols = np.empty(n_m, dtype=np.int64)
    factor = np.empty(n_m)
    for m in range(n_m):
        cols[m] = ipar[m, I_ACOL]
        factor[m] = np.exp(-fpar[m, F_DECAY] * (t - fpar[m, F_T0]))
    for i in range(base.shape[0]):
        keep = 1.0
        for m in range(n_m):
            col = cols[m]
            if col < 0:
                continue
            s = adstock[i, col]
            if s > 0.0:
                hill = _hill(s * factor[m], fpar[m, F_HALF], fpar[m, F_SHAPE])
                keep *= 1.0 - fpar[m, F_LIFT] * hill
        a = float(base[i])
        out[i] = a if keep == 1.0 else 1.0 - (1.0 - a) * keep


@njit(cache=True, inline="always", _nrt=False)
def at_decision(i, t, j, s, first, inw, md):
    """Media at a consumer's decision: serve the search ads (first decision of a journey only),
    and return the channels put into the consideration set as a bit mask (bit c: channel c),
    from a clicked search ad or a recent click on a pushed ad."""
    forced = 0
    info = md[INFO]
    if first and info[I_SEARCH_ON]:
        fpar, ipar = md[FPAR], md[IPAR]
        for m in range(info[I_N]):
            if ipar[m, I_SEARCH] == 0 or md[SEGW][m, s] <= 0.0:
                continue
            if fpar[m, F_S_EVERY] > 0.0:
                since = t - fpar[m, F_S_START]
                if since < 0.0 or since % fpar[m, F_S_EVERY] >= fpar[m, F_S_DUR]:
                    continue
            day = np.floor(t)
            if fpar[m, F_DAY] != day:
                fpar[m, F_DAY] = day
                fpar[m, F_LEFT] = spendable(m, day, day + 1.0, md)
            cost = fpar[m, F_COST]
            if fpar[m, F_LEFT] < cost * (1.0 - 1e-9) or _capped(i, m, md):
                continue
            fpar[m, F_LEFT] -= cost
            _impress(i, m, t, inw, md)
            ctr = fpar[m, F_CTR]
            if ctr > 0.0 and rs.uniform(md[KEYS][m], i, j, SEARCH_CLICK_SLOT) < ctr:
                if inw:
                    md[TALLY][m, T_CLICKS] += 1.0
                forced |= 1 << ipar[m, I_CHANNEL]
    if info[I_CLICKS_ON]:
        row = md[BYTES][i]
        ref = int(row[info[I_B_REF]]) - 1
        if ref >= 0:
            if t <= md[REF_EXPIRY][i]:
                forced |= 1 << ref
            row[info[I_B_REF]] = np.uint8(0)
    return forced


@njit(cache=True, inline="always", _nrt=False)
def skip_stale(i, t, due, md):
    """Whether a calendar entry (i, t) is stale (a click brought the consumer's need
    forward); counts it off."""
    info = md[INFO]
    if info[I_AWARE_ON]:  # the decision or need about to run may read the adstock row
        prefetch(md[ADSTOCK], i)
    if due.shape[0] == 0:
        return False
    # Only a consumer with a stale entry counted in `_click` can have one: for the others
    # (most events) neither their row nor `due` is read, each would be a cache miss.
    bits = md[STALE_BITS]
    if (bits[i >> 3] >> (i & 7)) & 1 == 0 or due[i] == t:
        return False
    info[I_STALE] -= 1
    row = md[BYTES][i]
    n_stale = row[info[I_B_STALE]]
    if n_stale < STALE_STICKY:
        n_stale -= np.uint8(1)
        row[info[I_B_STALE]] = n_stale
        if n_stale == 0:
            bits[i >> 3] &= np.uint8(~(1 << (i & 7)) & 0xFF)
    return True
