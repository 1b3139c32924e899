"""Orders: a day's paid orders with their whole lifecycle, and the daily CDC drop built from them.

An order's lifecycle (cancel, ship, collect 揽收, deliver, refund, dispute, review) is sampled when it is
paid, from the selling shop's quality latent. The ``orders`` drop of day D holds one row per order with
an event on D, carrying the order's full state at the end of D; ``updated_at`` is its latest event on D.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

from trust_dw.feeds import CHANNELS, FEEDS, REFUND_REASONS, REFUND_TYPES
from trust_dw.generate import csvio
from trust_dw.generate.csvio import DAY, NONE, day_start
from trust_dw.generate.rng import ORDERS, PRICES, pick, pick_within, stream
from trust_dw.generate.scales import LIFECYCLE_DAYS
from trust_dw.generate.world import (
    BADNESS_BUCKETS,
    FAN_PROB_BY_CHANNEL,
    LIVE_DIST,
    LIVE_SELF,
    VIDEO_DIST,
    World,
)

H = 3600
WEEKDAY_FACTOR = (0.97, 0.96, 0.97, 0.98, 1.00, 1.06, 1.06)  # Monday .. Sunday
EVENTS = (
    "paid_at",
    "cancelled_at",
    "shipped_at",
    "collected_at",
    "delivered_at",
    "refund_requested_at",
    "refund_completed_at",
    "dispute_opened_at",
    "reviewed_at",
)
QUALITY = REFUND_REASONS.index("quality")


@dataclass
class Cohort:
    """The orders paid on one day (one entry per order), with their sampled lifecycle."""

    paid_day: np.ndarray
    number: np.ndarray  # order number within its paid day
    shop: np.ndarray
    product: np.ndarray
    creator: np.ndarray  # -1 = NULL
    buyer: np.ndarray
    channel: np.ndarray
    is_fan: np.ndarray
    quantity: np.ndarray
    unit_cents: np.ndarray
    paid_at: np.ndarray
    cancelled_at: np.ndarray
    shipped_at: np.ndarray
    collected_at: np.ndarray
    delivered_at: np.ndarray
    refund_requested_at: np.ndarray
    refund_type: np.ndarray  # -1 = NULL
    refund_reason: np.ndarray
    refund_completed_at: np.ndarray
    dispute_opened_at: np.ndarray
    reviewed_at: np.ndarray
    review_rating: np.ndarray  # 0 = NULL

    def __len__(self) -> int:
        return len(self.number)

    def take(self, idx: np.ndarray) -> Cohort:
        return Cohort(*(getattr(self, f.name)[idx] for f in fields(self)))

    @staticmethod
    def concat(parts: list[Cohort]) -> Cohort:
        return Cohort(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Cohort)))

    def last_event(self) -> np.ndarray:
        out = self.paid_at.copy()
        for name in EVENTS[1:]:
            ts = getattr(self, name)
            out = np.where(ts != NONE, np.maximum(out, ts), out)
        return out

    def touched_between(self, lo: int, hi: int) -> np.ndarray:
        """Orders with an event in [lo, hi)."""
        mask = np.zeros(len(self), dtype=bool)
        for name in EVENTS:
            ts = getattr(self, name)
            mask |= (ts >= lo) & (ts < hi)
        return mask

    def as_of(self, t: np.ndarray | int) -> tuple[Cohort, np.ndarray]:
        """The state at instant(s) ``t`` (events after t hidden) and its updated_at."""
        state = self.take(np.arange(len(self)))
        updated = np.full(len(self), np.iinfo(np.int64).min)
        for name in EVENTS:
            ts = getattr(self, name)
            seen = ts <= t
            setattr(state, name, np.where(seen, ts, NONE))
            updated = np.where(seen, np.maximum(updated, ts), updated)
        state.refund_type = np.where(state.refund_requested_at != NONE, self.refund_type, -1).astype(np.int8)
        state.refund_reason = np.where(state.refund_requested_at != NONE, self.refund_reason, -1).astype(
            np.int8
        )
        state.review_rating = np.where(state.reviewed_at != NONE, self.review_rating, 0).astype(np.int8)
        return state, updated


def orders_on(day: int, opd: int) -> int:
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
    return int(round(opd * WEEKDAY_FACTOR[weekday]))


def _gamma_hours(rng: np.random.Generator, mean_h: np.ndarray, shape: float = 2.0) -> np.ndarray:
    return rng.gamma(shape, mean_h / shape) * H


def sample_cohort(world: World, day: int) -> Cohort:
    """All orders paid on ``day``: who sold what to whom through which channel, and what happens next."""
    rng = stream(world.seed, ORDERS, day)
    shops, products, creators, buyers = world.shops, world.products, world.creators, world.buyers
    n = orders_on(day, world.scale.orders_per_day)

    # Where: a shop (by its order rate), then one of its products on sale that day (by popularity).
    on_sale = products.on_sale(day, shops)
    p_weight = products.popularity * on_sale
    shop_has = np.bincount(products.shop, p_weight, shops.n) > 0
    s_weight = shops.order_weight * shops.active_on(day) * shop_has
    shop = pick(np.cumsum(s_weight), rng.random(n))
    lo = products.first[shop]
    product = pick_within(np.cumsum(p_weight), lo, lo + products.count[shop], rng.random(n))

    # How: the shop's channel mix; the creator depends on the channel.
    cmix = np.cumsum(shops.mix[shop], axis=1)
    channel = np.minimum((rng.random(n)[:, None] * cmix[:, -1:] > cmix).sum(axis=1), 3).astype(np.int8)
    creator = np.full(n, -1, dtype=np.int64)
    self_ = channel == LIVE_SELF
    creator[self_] = shops.account[shop[self_]]
    dist = (channel == LIVE_DIST) | (channel == VIDEO_DIST)
    c_weight = (creators.share * creators.active_on(day))[world.dist_order]
    c_cum = np.cumsum(c_weight)
    g_total = np.array(
        [c_weight[a:b].sum() for a, b in zip(world.dist_group_lo, world.dist_group_hi, strict=True)]
    )
    own_group = np.searchsorted(BADNESS_BUCKETS, shops.badness[shop[dist]])
    group = np.where(rng.random(int(dist.sum())) < 0.7, own_group, rng.integers(0, 4, int(dist.sum())))
    group = np.where(g_total[group] > 0, group, int(np.argmax(g_total)))
    pos = pick_within(
        c_cum, world.dist_group_lo[group], world.dist_group_hi[group], rng.random(int(dist.sum()))
    )
    creator[dist] = world.dist_order[pos]

    # Who: fans of the owner (shop, or the distributing creator) or anyone on the platform.
    fan_p = FAN_PROB_BY_CHANNEL[channel]
    fan_p = np.where(dist, np.clip(fan_p * creators.fan_share[np.maximum(creator, 0)] * 2.2, 0, 0.9), fan_p)
    is_fan = rng.random(n) < fan_p
    u = rng.random(n)
    owner_shop = ~dist
    pool_off = np.where(
        owner_shop, buyers.shop_pool_offset[shop], buyers.creator_pool_offset[np.maximum(creator, 0)]
    )
    pool_size = np.where(
        owner_shop, buyers.shop_pool_size[shop], buyers.creator_pool_size[np.maximum(creator, 0)]
    )
    fan_buyer = (pool_off + np.floor(u * pool_size).astype(np.int64)) % buyers.population
    anyone = np.floor(buyers.population * rng.random(n) ** world.cal.nonfan_buyer_skew).astype(np.int64)
    buyer = np.where(is_fan, fan_buyer, anyone)

    # What: quantity and the day's price (list price less a per-product promotional swing).
    quantity = rng.choice([1, 2, 3, 4, 5], n, p=[0.80, 0.13, 0.05, 0.015, 0.005]).astype(np.int16)
    day_factor = 1.0 - products.volatility * stream(world.seed, PRICES, day).random(products.n)
    unit_cents = np.round(products.price_cents[product] * day_factor[product]).astype(np.int64)

    # When: a diurnal clock (lunch and evening live-stream peaks).
    evening = rng.random(n) < 0.65
    clock = np.where(evening, rng.normal(21.0, 1.8, n), rng.normal(12.5, 3.0, n)) % 24
    paid_at = day_start(day) + np.floor(clock * H).astype(np.int64)
    paid_at = np.clip(paid_at, day_start(day), day_start(day + 1) - 1)

    life = _lifecycle(rng, paid_at, shops.badness[shop])
    return Cohort(
        paid_day=np.full(n, day, dtype=np.int32),
        number=np.arange(1, n + 1, dtype=np.int64),
        shop=shop,
        product=product,
        creator=creator,
        buyer=buyer,
        channel=channel,
        is_fan=is_fan,
        quantity=quantity,
        unit_cents=unit_cents,
        paid_at=paid_at,
        **life,
    )


def _lifecycle(rng: np.random.Generator, paid: np.ndarray, b: np.ndarray) -> dict:
    n = len(paid)
    cancelled = rng.random(n) < 0.02 + 0.04 * b
    cancelled_at = np.where(
        cancelled, paid + np.minimum(rng.exponential(2 * H, n), 20 * H).astype(np.int64) + 60, NONE
    )

    # Refund requested before shipment (refund_only, not shipped: SLA 24h).
    pre_ship = ~cancelled & (rng.random(n) < 0.01 + 0.02 * b)
    alive = ~cancelled & ~pre_ship

    ship_delay = np.minimum(_gamma_hours(rng, 5 + 30 * b), 110 * H)
    shipped_at = np.where(alive, paid + ship_delay.astype(np.int64) + 300, NONE)
    slow_pickup = rng.random(n) < 0.01 + 0.22 * b
    pickup = np.minimum(rng.exponential(1.5 * H, n), 12 * H) + np.where(
        slow_pickup, rng.uniform(24 * H, 72 * H, n), 0
    )
    collected_at = np.where(alive, shipped_at + pickup.astype(np.int64) + 60, NONE)

    in_transit_refund = alive & (rng.random(n) < 0.004 + 0.01 * b)
    transit = np.clip(12 * H + _gamma_hours(rng, 12 + 60 * b), 12 * H, 7 * DAY)
    delivered = alive & ~in_transit_refund
    delivered_at = np.where(delivered, collected_at + transit.astype(np.int64), NONE)

    after_delivery = delivered & (rng.random(n) < 0.03 + 0.12 * b)
    req_pre = paid + rng.uniform(10 * 60, 20 * H, n).astype(np.int64)
    req_transit = collected_at + (np.clip(rng.uniform(0, 1, n), 0.05, 0.95) * (transit)).astype(np.int64)
    req_after = delivered_at + np.minimum(rng.exponential(1.5 * DAY, n), 7 * DAY - 60).astype(np.int64)
    refund_requested_at = np.select(
        [pre_ship, in_transit_refund, after_delivery], [req_pre, req_transit, req_after], NONE
    )
    refunded = refund_requested_at != NONE
    refund_type = np.select(
        [pre_ship | in_transit_refund, after_delivery],
        [0, np.where(rng.random(n) < 0.6, REFUND_TYPES.index("return_refund"), 0)],
        -1,
    ).astype(np.int8)
    # Reasons after delivery depend on the shop; before it, buyers mostly changed their mind.
    q = 0.15 + 0.45 * b
    r = rng.random(n)
    after_reason = np.select(
        [r < q, r < q + 0.12 + 0.1 * b, r < q + 0.22 + 0.1 * b, r < 0.95], [QUALITY, 1, 2, 3], 4
    )
    reason = np.select(
        [pre_ship, in_transit_refund, after_delivery],
        [np.where(rng.random(n) < 0.85, 3, 4), REFUND_REASONS.index("logistics"), after_reason],
        -1,
    ).astype(np.int8)
    shipped_at_request = in_transit_refund | after_delivery
    sla = np.where(refund_type == 1, 48 * H, np.where(shipped_at_request, 36 * H, 24 * H))
    on_time = rng.random(n) < 0.995 - 0.3 * b
    took = np.where(
        on_time, rng.uniform(0.05, 0.97, n) * sla, sla + np.minimum(rng.exponential(24 * H, n), 6 * DAY) + 60
    )
    completes = refunded & (rng.random(n) < 0.95)
    refund_completed_at = np.where(completes, refund_requested_at + took.astype(np.int64), NONE)

    dispute_p = np.where(refunded, 0.01 + 0.15 * b, 0.0003 + 0.006 * b)
    disputed = (refunded | delivered) & (rng.random(n) < dispute_p)
    dispute_opened_at = np.where(
        disputed,
        np.where(
            refunded,
            refund_requested_at + rng.uniform(H, 5 * DAY, n).astype(np.int64),
            delivered_at + rng.uniform(DAY, 10 * DAY, n).astype(np.int64),
        ),
        NONE,
    )

    reviews = delivered & (rng.random(n) < np.where(after_delivery, 0.15, 0.35))
    reviewed_at = np.where(
        reviews, delivered_at + np.minimum(rng.exponential(2 * DAY, n), 15 * DAY).astype(np.int64) + 60, NONE
    )
    bad_goods = after_delivery & (reason <= 1)
    negative = rng.random(n) < 0.012 + 0.22 * b + np.where(bad_goods, 0.35, 0.0)
    positive = rng.choice([3, 4, 5], n, p=[0.10, 0.25, 0.65])
    rating = np.where(negative, rng.integers(1, 3, n), positive)
    review_rating = np.where(reviews, rating, 0).astype(np.int8)
    return {
        "cancelled_at": cancelled_at,
        "shipped_at": shipped_at,
        "collected_at": collected_at,
        "delivered_at": delivered_at,
        "refund_requested_at": refund_requested_at,
        "refund_type": refund_type,
        "refund_reason": reason,
        "refund_completed_at": refund_completed_at,
        "dispute_opened_at": dispute_opened_at,
        "reviewed_at": reviewed_at,
        "review_rating": review_rating,
    }


def order_ids(c: Cohort) -> pa.Array:
    """O + paid date (yyyymmdd) + 8-digit number, e.g. O2026010500001234."""
    ymd = np.array([int(csvio.day_str(int(d)).replace("-", "")) for d in np.unique(c.paid_day)])
    days = np.unique(c.paid_day)
    number = ymd[np.searchsorted(days, c.paid_day)].astype(np.int64) * 10**8 + c.number
    return csvio.ids("O", number, 16)


def to_table(c: Cohort, updated_at: np.ndarray) -> pa.Table:
    """The orders feed's columns (feeds.FEEDS order) as landing-formatted strings."""
    cols = {
        "order_id": order_ids(c),
        "updated_at": csvio.timestamps(updated_at),
        "shop_id": csvio.ids("S", c.shop + 1, 6),
        "product_id": csvio.ids("P", c.product + 1, 7),
        "creator_id": csvio.ids("C", c.creator + 1, 6, valid=c.creator >= 0),
        "buyer_id": csvio.ids("B", c.buyer + 1, 9),
        "channel": csvio.labels(c.channel, CHANNELS),
        "is_fan_order": csvio.booleans(c.is_fan),
        "quantity": csvio.integers(c.quantity),
        "unit_price": csvio.decimals(c.unit_cents),
        "pay_amount": csvio.decimals(c.unit_cents * c.quantity),
        "refund_type": csvio.labels(c.refund_type, REFUND_TYPES),
        "refund_reason": csvio.labels(c.refund_reason, REFUND_REASONS),
        "review_rating": csvio.integers(c.review_rating, valid=c.review_rating > 0),
    }
    for name in EVENTS:
        cols[name] = csvio.timestamps(getattr(c, name))
    return pa.table({name: cols[name] for name in FEEDS["orders"].column_names})


class OrderBook:
    """The cohorts still changing, so each day's CDC drop is built without regenerating history."""

    def __init__(self, world: World):
        self.world = world
        self.cohorts: dict[int, Cohort] = {}

    def advance_to(self, day: int) -> None:
        """Make sure every cohort that can change on ``day`` is loaded; drop what can no longer change."""
        first = max(self.world.start_day, day - LIFECYCLE_DAYS)
        for p in range(first, day + 1):
            if p not in self.cohorts:
                self.cohorts[p] = sample_cohort(self.world, p)
        keep_from = day_start(day - 1)  # faults replay rows delivered on the day before
        for p in sorted(self.cohorts):
            if p < first:
                del self.cohorts[p]
                continue
            c = self.cohorts[p]
            alive = c.last_event() >= keep_from
            if p < day - 1 and not alive.all():
                self.cohorts[p] = c.take(np.flatnonzero(alive))

    def drop(self, day: int) -> OrderDrop:
        """The CDC rows of ``day`` (one per order with an event on the day), in file order."""
        lo, hi = day_start(day), day_start(day + 1)
        parts = []
        for _, c in sorted(self.cohorts.items()):
            touched = np.flatnonzero(c.touched_between(lo, hi))
            if len(touched):
                parts.append((c, touched))
        return OrderDrop(day, parts)


class OrderDrop:
    """A day's CDC rows, materialised chunk by chunk (state at the end of the day + updated_at).

    Rows are addressed by their position in the file (0 = first data row): cohorts in paid-day order,
    orders in number order within a cohort.
    """

    def __init__(self, day: int, parts: list[tuple[Cohort, np.ndarray]]):
        self.day = day
        self.parts = parts
        self.offsets = np.cumsum([0] + [len(idx) for _, idx in parts])
        self.n = int(self.offsets[-1])

    def rows(self, positions: np.ndarray) -> tuple[Cohort, np.ndarray]:
        """The rows at ascending ``positions``: their state and updated_at."""
        positions = np.asarray(positions, dtype=np.int64)
        pieces = []
        for k, (cohort, idx) in enumerate(self.parts):
            lo, hi = np.searchsorted(positions, self.offsets[k : k + 2])
            if hi > lo:
                pieces.append(cohort.take(idx[positions[lo:hi] - self.offsets[k]]))
        if not pieces:
            pieces = [self.parts[0][0].take(np.array([], dtype=np.int64))] if self.parts else []
        if not pieces:
            raise ValueError("no orders to take rows from")
        return Cohort.concat(pieces).as_of(day_start(self.day + 1) - 1)

    def chunks(self, size: int) -> Iterator[np.ndarray]:
        for start in range(0, self.n, size):
            yield np.arange(start, min(start + size, self.n))

    def paid_today(self) -> np.ndarray:
        """Positions of the orders paid on the drop's day (the last cohort)."""
        if not self.parts or self.parts[-1][0].paid_day[0] != self.day:
            return np.array([], dtype=np.int64)
        return np.arange(self.offsets[-2], self.offsets[-1])
