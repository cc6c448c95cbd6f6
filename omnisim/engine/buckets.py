"""The consumer event calendar: pending stage events, handed out one time bucket at a time.

Each consumer has exactly one pending event (the next stage of their journey), so the calendar
holds pairs (consumer id, time). Time is cut into buckets of width ``dt``; the engine asks for
all events of the current bucket, sorted by time, advances them together with vectorised numpy,
and schedules the consumers' next events.

A heap of a million entries would cost a Python operation per event. Instead:

* events for later *slots* (a slot is a run of buckets, about a day) wait in an unsorted append
  buffer, which is partitioned by slot once per slot change (one argsort per day, not per
  bucket);
* the current slot's events are one time-sorted array, read with a moving pointer;
* events scheduled into the current slot while it runs (short delays) go to a small side
  buffer, merged when their bucket comes.

Everything is amortised O(log n) numpy work per event and O(slots) Python work per day.
"""

from __future__ import annotations

import numpy as np

_EMPTY_I = np.empty(0, dtype=np.int32)
_EMPTY_T = np.empty(0, dtype=np.float64)


class EventCalendar:
    """Pending consumer events in time buckets of width ``dt`` days."""

    def __init__(self, dt: float, buckets_per_slot: int) -> None:
        self.dt = float(dt)
        self.k = max(1, int(buckets_per_slot))
        self.slot_width = self.dt * self.k
        self._slot = -1  # current slot index
        self._slot_end = 0.0
        self._today_ids = _EMPTY_I
        self._today_t = _EMPTY_T
        self._ptr = 0
        self._side_ids: list[np.ndarray] = []
        self._side_t: list[np.ndarray] = []
        self._far_ids: list[np.ndarray] = []
        self._far_t: list[np.ndarray] = []
        self._slots: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._pending = 0

    def __len__(self) -> int:
        return self._pending

    def schedule(self, ids: np.ndarray, times: np.ndarray) -> None:
        """Add events: consumer ``ids[i]`` acts at ``times[i]`` (days)."""
        if len(ids) == 0:
            return
        self._pending += len(ids)
        near = times < self._slot_end
        if near.all():
            self._side_ids.append(ids)
            self._side_t.append(times)
        elif not near.any():
            self._far_ids.append(ids)
            self._far_t.append(times)
        else:
            self._side_ids.append(ids[near])
            self._side_t.append(times[near])
            far = ~near
            self._far_ids.append(ids[far])
            self._far_t.append(times[far])

    def _enter_slot(self, slot: int) -> None:
        """Partition the far buffer by slot, then make ``slot`` the sorted current array."""
        if self._far_ids:
            ids = np.concatenate(self._far_ids)
            t = np.concatenate(self._far_t)
            self._far_ids, self._far_t = [], []
            s = (t // self.slot_width).astype(np.int64)
            order = np.argsort(s, kind="stable")
            s, ids, t = s[order], ids[order], t[order]
            cuts = np.flatnonzero(np.diff(s)) + 1
            starts = np.concatenate(([0], cuts))
            ends = np.concatenate((cuts, [len(s)]))
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                self._slots.setdefault(int(s[a]), []).append((ids[a:b], t[a:b]))
        parts = self._slots.pop(slot, [])
        # Events scheduled for slots that were skipped (no bucket visited them) are still due.
        for old in [k for k in self._slots if k < slot]:
            parts.extend(self._slots.pop(old))
        rest_ids = self._today_ids[self._ptr :]
        rest_t = self._today_t[self._ptr :]
        ids = np.concatenate([rest_ids, *(p[0] for p in parts)]) if parts else rest_ids
        t = np.concatenate([rest_t, *(p[1] for p in parts)]) if parts else rest_t
        order = np.argsort(t, kind="stable")
        self._today_ids, self._today_t, self._ptr = ids[order], t[order], 0
        self._slot = slot
        self._slot_end = (slot + 1) * self.slot_width

    def pop_until(self, t_end: float) -> tuple[np.ndarray, np.ndarray]:
        """Remove and return all events with time < ``t_end``, sorted by time (stable)."""
        slot = int((t_end - 0.5 * self.dt) // self.slot_width)
        if slot != self._slot:
            self._enter_slot(slot)
        j = self._ptr + int(np.searchsorted(self._today_t[self._ptr :], t_end, side="left"))
        ids = self._today_ids[self._ptr : j]
        t = self._today_t[self._ptr : j]
        self._ptr = j
        if self._side_ids:
            sid = np.concatenate(self._side_ids) if len(self._side_ids) > 1 else self._side_ids[0]
            st = np.concatenate(self._side_t) if len(self._side_t) > 1 else self._side_t[0]
            due = st < t_end
            if due.any():
                keep = ~due
                self._side_ids = [sid[keep]] if keep.any() else []
                self._side_t = [st[keep]] if keep.any() else []
                ids = np.concatenate((ids, sid[due]))
                t = np.concatenate((t, st[due]))
                order = np.argsort(t, kind="stable")
                ids, t = ids[order], t[order]
            else:
                self._side_ids, self._side_t = [sid], [st]
        self._pending -= len(ids)
        return ids, t

    def pending(self) -> tuple[np.ndarray, np.ndarray]:
        """All pending events (ids, times), unsorted; for checks and tests."""
        ids = [self._today_ids[self._ptr :], *self._side_ids, *self._far_ids]
        t = [self._today_t[self._ptr :], *self._side_t, *self._far_t]
        for parts in self._slots.values():
            ids += [p[0] for p in parts]
            t += [p[1] for p in parts]
        return np.concatenate(ids), np.concatenate(t)
