"""The consumer journey: need -> search -> decision -> purchase -> fulfilment -> use & review.

The engine hands `Journey.advance` a batch of consumers whose next event falls in the current
time bucket, sorted by time. Each consumer's pending event is the stage they are in
(`omnisim.consumers.population`); the batch is split by stage and each stage handler advances
its consumers with vectorised numpy and schedules their next event. Stages and the equations
they use are documented in ``docs/model.md``; the short version:

* **need** (t): count the journey, draw the next renewal epoch and the basket; an aware consumer
  (probability = awareness) starts searching and decides after an exponential search time, an
  unaware one leaves the brand's market for this need (outside option).
* **decide** (search ends): consideration set, one Bernoulli per channel with probability
  ``reach * open * logistic(visibility + w_h * habit)``; multinomial logit over the considered
  channels plus the outside option; an online choice orders at once, an offline one travels to
  a store.
* **arrive** (store): shelf, queue and service (`omnisim.channels.service`).
* **purchase**: stock taken first come, first served; a shortfall is a stock-out, after which
  the consumer switches (re-decides without that channel) or the sale is lost.
* **review** (after use): satisfaction, a review into the public Bayesian-average rating, habit
  learning, churn; then the next need.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from omnisim.channels.catalog import ChannelTable, Geography
from omnisim.channels.service import ADMITTED, STOCKOUT, StoreQueues
from omnisim.consumers.needs import NeedClock
from omnisim.consumers.population import (
    CHURNED,
    FULFILMENT,
    SEARCHING,
    TRAVELLING,
    WAIT_NEED,
    Population,
)
from omnisim.engine.ledger import Ledger
from omnisim.engine.streams import Streams, exponential, normal
from omnisim.engine.trail import TrailWriter
from omnisim.scenario.schema import Scenario
from omnisim.supply.inventory import Inventory

Schedule = Callable[[np.ndarray, np.ndarray], None]
_NO_IDS = np.empty(0, dtype=np.int64)


def _poisson_cdf_table(means: np.ndarray) -> np.ndarray:
    """Row s: CDF of Poisson(means[s]) at 0, 1, ..., padded with 1 (for inverse-CDF draws)."""
    kmax = int(max(10, np.max(means) * 6 + 20))
    k = np.arange(kmax)
    out = np.ones((len(means), kmax))
    from scipy import stats

    for s, m in enumerate(means):
        out[s] = stats.poisson.cdf(k, m) if m > 0 else 1.0
    out[:, -1] = 1.0
    return out


class Journey:
    """Stage handlers over the population arrays."""

    def __init__(
        self,
        sc: Scenario,
        pop: Population,
        streams: Streams,
        clock: NeedClock,
        geo: Geography,
        chan: ChannelTable,
        inventory: Inventory,
        queues: StoreQueues,
        ledger: Ledger,
        schedule: Schedule,
        trail: TrailWriter | None,
    ) -> None:
        self.sc, self.pop, self.rs, self.clock = sc, pop, streams, clock
        self.geo, self.chan, self.inv, self.queues = geo, chan, inventory, queues
        self.ledger, self.schedule, self.trail = ledger, schedule, trail
        self.horizon = sc.horizon_days
        segs = sc.segments
        self.search_days = np.array([s.search_hours / 24.0 for s in segs])
        self.beta_price = np.array([s.price_sensitivity for s in segs])
        self.beta_time = np.array([s.time_sensitivity for s in segs])
        self.beta_rating = np.array([s.rating_sensitivity for s in segs])
        self.outside = np.array([s.outside_utility for s in segs])
        self.basket_cdf = _poisson_cdf_table(
            np.array([s.need.basket_mean_units - 1.0 for s in segs])
        )
        j = sc.journey
        self.w = j.choice
        self.w_consider_habit = j.consideration.habit
        self.switch_p = j.stockout.switch_probability
        self.max_switches = j.stockout.max_switches
        self.sat = j.satisfaction
        self.rev = j.reviews
        self.habit_lr = j.habits.learning_rate
        self.habit_decay = j.habits.decay
        self.churn = j.churn
        self.aware_after = j.aware_after_purchase
        self.rating_sum = np.zeros(chan.n)
        self.rating_n = np.zeros(chan.n)
        self.node_region = np.array([geo.names.index(n.region) for n in sc.nodes], dtype=np.int64)
        self.events = 0

    # ---------------------------------------------------------------- helpers

    def rating(self) -> np.ndarray:
        """Public rating per channel: Bayesian average (m * prior + sum) / (m + n) (stars)."""
        m = self.rev.prior_weight
        return (m * self.rev.prior_rating + self.rating_sum) / np.maximum(m + self.rating_n, 1e-12)

    def _log(self, event: str, t, ids, **kw) -> None:
        if self.trail is not None:
            self.trail.add(event, t, ids, **kw)

    def _prices(self, t: np.ndarray, ids: np.ndarray, live: np.ndarray):
        """(n, C) prices each consumer sees at t, and the promotion flags."""
        disc, promo = self.chan.discount(t, live)
        c = self.chan
        price = c.list_price * c.price_index[None, :] * (1.0 - disc)
        member = self.pop.member[ids]
        if member.any():
            cut = np.where(c.recognises, c.member_discount, 0.0)
            price = np.where(member[:, None], price * (1.0 - cut[None, :]), price)
        return price, promo

    def _end_journey(self, ids: np.ndarray, t: np.ndarray) -> None:
        """Back to waiting: the next need at the renewal epoch, or now if it has passed."""
        if len(ids) == 0:
            return
        pop = self.pop
        pop.stage[ids] = WAIT_NEED
        t_next = np.maximum(self.clock.to_real(pop.tau_next[ids]), t)
        due = t_next < self.horizon
        self.schedule(ids[due], t_next[due])

    # ---------------------------------------------------------------- dispatch

    def start(self) -> None:
        """Schedule every consumer's first need (stationary start)."""
        pop = self.pop
        ids = np.arange(pop.n, dtype=np.int64)
        ua, ub = self.rs.uniform2("need", ids, 0, 0)
        tau = self.clock.draw(pop.segment, ua, ub, self._more("need", ids, 0), equilibrium=True)
        pop.tau_next[:] = tau
        t = self.clock.to_real(tau)
        due = t < self.horizon
        self.schedule(ids[due].astype(np.int32), t[due])

    def _more(self, stream: str, ids: np.ndarray, journey):
        def more(attempt: int, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            jj = journey if np.isscalar(journey) else journey[pos]
            return self.rs.uniform2(stream, ids[pos], jj, 1 + attempt)

        return more

    def advance(self, ids: np.ndarray, t: np.ndarray) -> None:
        """Advance a time-sorted batch of consumers by one stage each."""
        self.events += len(ids)
        ids = ids.astype(np.int64)
        stage = self.pop.stage[ids]
        order = np.argsort(stage, kind="stable")
        st = stage[order]
        bounds = np.searchsorted(st, np.arange(5))
        bounds = np.append(bounds, len(st))
        handlers = (self._need, self._decide, self._arrive, self._review)
        for s, handler in enumerate(handlers):
            a, b = bounds[s], bounds[s + 1]
            if b > a:
                sel = order[a:b]
                handler(ids[sel], t[sel])

    # ---------------------------------------------------------------- need

    def _need(self, ids: np.ndarray, t: np.ndarray) -> None:
        pop, rs = self.pop, self.rs
        self.ledger.record_needs(t)
        pop.journey[ids] += 1
        jj = pop.journey[ids]
        seg = pop.segment[ids]
        ua, ub = rs.uniform2("need", ids, jj, 0)
        x = self.clock.draw(seg, ua, ub, self._more("need", ids, jj))
        pop.tau_next[ids] = self.clock.to_op(t) + x
        self._log("need", t, ids)
        u_aware, u_search = rs.uniform2("search", ids, jj, 0)
        aware = u_aware < pop.awareness[ids]
        if not aware.all():
            gone = ~aware
            w = self.ledger.window(t[gone])
            self.ledger.unaware += int(w.sum())
            self._log("unaware", t[gone], ids[gone])
            self._end_journey(ids[gone], t[gone])
        ids, t, seg, jj = ids[aware], t[aware], seg[aware], jj[aware]
        u_basket, _ = rs.uniform2("search", ids, jj, 1)
        cdf = self.basket_cdf[seg]
        pop.units[ids] = 1 + (u_basket[:, None] > cdf).sum(axis=1)
        pop.failed[ids] = 0
        pop.switches[ids] = 0
        pop.stockouts_met[ids] = 0
        pop.queue_days[ids] = 0.0
        pop.late_days[ids] = 0.0
        pop.stage[ids] = SEARCHING
        self.schedule(ids, t + exponential(u_search[: len(ids)], self.search_days[seg]))

    # ---------------------------------------------------------------- decide

    def _decide(self, ids: np.ndarray, t: np.ndarray) -> None:
        pop, rs, c = self.pop, self.rs, self.chan
        _n, nc = len(ids), c.n
        jj = pop.journey[ids]
        seg = pop.segment[ids]
        reg = pop.region[ids]
        sw = pop.switches[ids]
        first = sw == 0
        live = c.live(t)
        hab = pop.habit[ids]
        p_consider = (
            c.reach.T[reg]
            * live
            / (1.0 + np.exp(-(c.visibility[None, :] + self.w_consider_habit * hab)))
        )
        u = rs.uniform_matrix("consider", ids, jj, nc)
        considered = u < p_consider
        failed = pop.failed[ids]
        if failed.any():
            bits = (failed[:, None] >> np.arange(nc, dtype=np.uint16)[None, :]) & 1
            considered &= bits == 0
        price, promo = self._prices(t, ids, live)
        seen = np.where(considered, price, np.inf).min(axis=1)
        pop.min_price[ids] = np.where(first, seen, np.minimum(pop.min_price[ids], seen))
        any_c = considered.any(axis=1)
        if first.any():
            w = self.ledger.window(t) & first
            self.ledger.searches += int((w & any_c).sum())
            self.ledger.no_consideration += int((w & ~any_c).sum())
            self.ledger.ch_considered += considered[w].sum(axis=0)
            if self.trail is not None:
                f = first & any_c
                self._log("search", t[f], ids[f], value=considered[f].sum(axis=1))
                f = first & ~any_c
                self._log("no_consideration", t[f], ids[f])
        # Utilities (docs/model.md, "Decision").
        wait = np.where(
            c.offline[None, :], c.travel_days[None, :], c.expected_lead.T[reg] + c.delivery_delay
        )
        rating = self.rating()
        v = (
            c.asc[None, :]
            + self.w.habit * hab
            - self.beta_price[seg][:, None] * np.log(price / c.list_price)
            - self.beta_time[seg][:, None] * wait
            + self.beta_rating[seg][:, None] * (rating - 3.0)[None, :]
            + self.w.awareness * pop.awareness[ids][:, None]
            + self.w.promotion * promo
        )
        member = pop.member[ids]
        if member.any():
            v += self.w.member * (member[:, None] & c.recognises[None, :])
        v = np.where(considered, v, -np.inf)
        v0 = self.outside[seg]
        vmax = np.maximum(v.max(axis=1), v0)
        ev = np.exp(v - vmax[:, None])
        e0 = np.exp(v0 - vmax)
        cum = np.cumsum(ev, axis=1)
        total = cum[:, -1] + e0
        # A re-decision after a switch draws its own uniform (slot = switch number).
        u_choice = rs.uniform("choice", ids, jj, sw)
        target = u_choice * total - e0  # <= 0: outside option
        pick = (cum < target[:, None]).sum(axis=1)
        pick = np.minimum(pick, nc - 1)
        buys = (target > 0) & any_c
        # No channel considered, or the outside option: the journey ends here.
        out = ~buys
        if out.any():
            w = self.ledger.window(t[out]) & any_c[out]
            self.ledger.outside_choices += int(w.sum())
            if self.trail is not None:
                oc = out & any_c
                self._log("outside_choice", t[oc], ids[oc])
            self._end_journey(ids[out], t[out])
        ids, t, pick, reg, jj, sw = ids[buys], t[buys], pick[buys], reg[buys], jj[buys], sw[buys]
        price = price[buys, pick]
        pop.channel[ids] = pick
        off = c.offline[pick]
        if off.any():
            self._go_to_store(ids[off], t[off], pick[off], reg[off], jj[off], sw[off])
        on = ~off
        if on.any():
            self._order_online(ids[on], t[on], pick[on], reg[on], jj[on], sw[on], price[on])

    # ---------------------------------------------------------------- offline

    def _go_to_store(self, ids, t, ch, reg, jj, sw) -> None:
        store = self.chan.store_for(ch, reg, ids)
        self.pop.node[ids] = store
        u_travel, u_open = self.rs.uniform2("travel", ids, jj, sw)
        arrive = t + exponential(u_travel, self.chan.travel_days[ch])
        arrive = self.queues.arrival_time(store, arrive, u_open)
        self.pop.stage[ids] = TRAVELLING
        self.schedule(ids, arrive)

    def _arrive(self, ids: np.ndarray, t: np.ndarray) -> None:
        pop, rs = self.pop, self.rs
        jj, sw = pop.journey[ids], pop.switches[ids]
        store = pop.node[ids].astype(np.int64)
        ch = pop.channel[ids].astype(np.int64)
        units = pop.units[ids].astype(np.int64)
        u_s, u_p = rs.uniform2("service", ids, jj, sw)
        z = normal(rs.uniform("service", ids, jj, sw.astype(np.uint64) + np.uint64(16)))
        service = self.queues.service_times(store, u_s, z)
        res = self.queues.visit(store, t, units, self.inv.stock, service, u_p)
        led = self.ledger
        w = led.window(t)
        led.store_arrivals += int(w.sum())
        adm = res.reason == ADMITTED
        led.store_admitted += int((w & adm).sum())
        waited = adm & (res.start > t)
        led.store_waited += int((w & waited).sum())
        led.store_wait_days_sum += float(np.where(w & adm, res.start - t, 0.0).sum())
        self._log("store_arrival", t, ids, channel=ch, node=store, units=units)
        # Turned away: an empty shelf is a stock-out; a full room or an impatient visitor balks.
        stockout = res.reason == STOCKOUT
        if stockout.any():
            self._stockout(
                ids[stockout], t[stockout], ch[stockout], store[stockout], units[stockout]
            )
        balk = ~adm & ~stockout
        if balk.any():
            wb = led.window(t[balk])
            led.balks += int(wb.sum())
            led.blocked += int((wb & (res.reason[balk] == 2)).sum())
            self._log("balk", t[balk], ids[balk], channel=ch[balk], node=store[balk])
            self._switch_or_leave(ids[balk], t[balk])
        if adm.any():
            ids, t0, ch, store = ids[adm], t[adm], ch[adm], store[adm]
            got, want, end = res.units[adm], units[adm], res.end[adm]
            short = want - got
            if (short > 0).any():
                s = short > 0
                led.record_lost(t0[s], ch[s], store[s], short[s])
                self._log("stockout", t0[s], ids[s], channel=ch[s], node=store[s], units=short[s])
            pop.queue_days[ids] = res.start[adm] - t0
            live = self.chan.live(t0)
            price, _ = self._prices(t0, ids, live)
            paid = price[np.arange(len(ids)), ch]
            self._purchase(ids, end, ch, store, got, paid, end)

    # ---------------------------------------------------------------- online

    def _order_online(self, ids, t, ch, reg, jj, sw, price) -> None:
        c = self.chan
        node = c.ship_node[ch, reg]
        units = self.pop.units[ids].astype(np.int64)
        got = self.inv.take(node, units)
        none = got == 0
        if none.any():
            self._stockout(ids[none], t[none], ch[none], node[none], units[none])
        ok = ~none
        if not ok.any():
            return
        ids, t, ch, reg, node, got, want = (
            ids[ok],
            t[ok],
            ch[ok],
            reg[ok],
            node[ok],
            got[ok],
            units[ok],
        )
        jj, sw, price = jj[ok], sw[ok], price[ok]
        short = want - got
        if (short > 0).any():
            s = short > 0
            self.ledger.record_lost(t[s], ch[s], node[s], short[s])
            self._log("stockout", t[s], ids[s], channel=ch[s], node=node[s], units=short[s])
        self.pop.node[ids] = node
        u_delay, _ = self.rs.uniform2("delivery", ids, jj, sw)
        lead = c.handling_days[ch] + self.geo.days[self.node_region[node], reg]
        lead = lead + exponential(u_delay, c.delivery_delay[ch])
        late = np.maximum(0.0, lead - c.promised[ch, reg])
        self.pop.late_days[ids] = late
        self.pop.queue_days[ids] = 0.0
        led = self.ledger
        w = led.window(t)
        led.online_orders += int(w.sum())
        led.delivery_days_sum += float(lead[w].sum())
        led.late_orders += int((w & (late > 0)).sum())
        overlap = np.clip(np.minimum(t + lead, led.horizon) - np.maximum(t, led.warmup), 0, None)
        led.transit_unit_days += float((overlap * got).sum())
        self._purchase(ids, t, ch, node, got, price, t + lead)

    # ---------------------------------------------------------------- purchase, stock-out

    def _purchase(self, ids, t, ch, node, units, price, t_receive) -> None:
        """Goods change hands at ``t``; the consumer has them at ``t_receive``."""
        pop, c = self.pop, self.chan
        value = price * units
        platform = value * c.commission[ch]
        dealer = value * c.intermediary_margin[ch]
        brand = value - platform - dealer
        self.ledger.record_purchases(
            t,
            ch,
            node,
            units,
            value,
            brand,
            dealer,
            platform,
            self.sc.product.unit_cost,
            c.order_cost[ch],
        )
        w = self.ledger.window(t)
        pop.purchases_in_window[ids[w]] += 1
        pop.ever_bought[ids] = True
        pop.paid[ids] = price
        if self.aware_after:
            pop.awareness[ids] = 1.0
        self._log("purchase", t, ids, channel=ch, node=node, units=units, value=price)
        self._log("receive", t_receive, ids, channel=ch, node=node, units=units)
        jj, sw = pop.journey[ids], pop.switches[ids]
        _, u_use = self.rs.uniform2("delivery", ids, jj, sw)
        pop.stage[ids] = FULFILMENT
        t_review = t_receive + exponential(u_use, self.rev.use_days)
        due = t_review < self.horizon
        self.schedule(ids[due], t_review[due])

    def _stockout(self, ids, t, ch, node, units) -> None:
        self.ledger.record_lost(t, ch, node, units)
        self._log("stockout", t, ids, channel=ch, node=node, units=units)
        pop = self.pop
        pop.stockouts_met[ids] = np.minimum(pop.stockouts_met[ids].astype(np.int64) + 1, 255)
        self._switch_or_leave(ids, t)

    def _switch_or_leave(self, ids, t) -> None:
        """After a stock-out or a balk: re-decide without that channel, or give up."""
        pop = self.pop
        jj, sw = pop.journey[ids], pop.switches[ids]
        u = self.rs.uniform("switch", ids, jj, sw)
        go = (u < self.switch_p) & (sw < self.max_switches)
        if go.any():
            s_ids = ids[go]
            ch = pop.channel[s_ids].astype(np.uint16)
            pop.failed[s_ids] |= np.left_shift(np.uint16(1), ch)
            pop.switches[s_ids] += 1
            pop.stage[s_ids] = SEARCHING
            w = self.ledger.window(t[go])
            self.ledger.switches += int(w.sum())
            self._log("switch", t[go], s_ids, channel=pop.channel[s_ids])
            self.schedule(s_ids, t[go])
        stay = ~go
        if stay.any():
            self._log("lost_sale", t[stay], ids[stay], channel=pop.channel[ids[stay]])
            self._end_journey(ids[stay], t[stay])

    # ---------------------------------------------------------------- use and review

    def _review(self, ids: np.ndarray, t: np.ndarray) -> None:
        pop, rs, s = self.pop, self.rs, self.sat
        jj = pop.journey[ids]
        ch = pop.channel[ids].astype(np.int64)
        u_noise, u_post = rs.uniform2("review", ids, jj, 0)
        u_churn, _ = rs.uniform2("review", ids, jj, 1)
        gap = np.log(np.maximum(pop.paid[ids], 1e-9) / np.maximum(pop.min_price[ids], 1e-9))
        sat = (
            s.base
            + self.chan.service_quality[ch]
            - s.price_gap_weight * np.maximum(gap, 0.0)
            - s.lateness_weight * pop.late_days[ids]
            - s.stockout_weight * pop.stockouts_met[ids]
            - s.queue_weight * pop.queue_days[ids] * 24.0
            + s.noise_sd * normal(u_noise)
        )
        led = self.ledger
        w = led.window(t)
        led.satisfaction_sum += float(sat[w].sum())
        led.satisfaction_n += int(w.sum())
        self._log("use", t, ids, channel=ch, value=sat)
        post = u_post < self.rev.post_probability
        if post.any():
            stars = np.clip(np.rint(3.0 + self.rev.stars_per_unit * sat[post]), 1, 5)
            pc = ch[post]
            self.rating_sum += np.bincount(pc, weights=stars, minlength=self.chan.n)
            self.rating_n += np.bincount(pc, minlength=self.chan.n)
            wp = w[post]
            led.reviews += int(wp.sum())
            led.stars_sum += float(stars[wp].sum())
            self._log("review", t[post], ids[post], channel=pc, value=stars)
        # Habits: the used channel is pulled toward 1, the others decay.
        hab = pop.habit[ids]
        used = hab[np.arange(len(ids)), ch]
        hab *= 1.0 - self.habit_decay
        hab[np.arange(len(ids)), ch] = used + self.habit_lr * (1.0 - used)
        pop.habit[ids] = hab
        churn = (sat < self.churn.threshold) & (u_churn < self.churn.probability)
        if churn.any():
            led.churned += int(w[churn].sum())
            pop.stage[ids[churn]] = CHURNED
            self._log("churn", t[churn], ids[churn])
        keep = ~churn
        self._end_journey(ids[keep], t[keep])
