"""Daily activity feeds: content_metrics (one row per content item per day) and violations (rulings)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trust_dw.feeds import CONTENT_TYPES, FEEDS, SUBJECT_TYPES, VIOLATION_TYPES
from trust_dw.generate import csvio
from trust_dw.generate.csvio import day_start
from trust_dw.generate.orders import Cohort
from trust_dw.generate.rng import CONTENT, VIOLATIONS, stream
from trust_dw.generate.world import VIDEO_DIST, World

LIVE, VIDEO = CONTENT_TYPES.index("live"), CONTENT_TYPES.index("short_video")
SHOP_SUBJECT, CREATOR_SUBJECT, PRODUCT_SUBJECT = (
    SUBJECT_TYPES.index(s) for s in ("shop", "creator", "product")
)
# Ruling types by subject (false_advertising, private_transaction, counterfeit, bad_service, other).
VIOLATION_MIX = {
    SHOP_SUBJECT: [0.20, 0.12, 0.10, 0.40, 0.18],
    CREATOR_SUBJECT: [0.50, 0.20, 0.0, 0.05, 0.25],
    PRODUCT_SUBJECT: [0.40, 0.0, 0.40, 0.0, 0.20],
}


def _ymd(day: int) -> int:
    return int(csvio.day_str(day).replace("-", ""))


def content_metrics(world: World, day: int, paid_today: Cohort) -> pa.Table:
    """Content items of the day: every creator who sold through a live room or video that day has that
    item (it carries the attributed orders and GMV); shop accounts go live; other creators post."""
    rng = stream(world.seed, CONTENT, day)
    shops, creators = world.shops, world.creators
    target = world.scale.content_per_day

    sold = paid_today.creator >= 0
    kind = np.where(paid_today.channel == VIDEO_DIST, VIDEO, LIVE)[sold]
    who = paid_today.creator[sold]
    key = who * 2 + kind
    gmv = paid_today.unit_cents[sold] * paid_today.quantity[sold]
    keys, inverse = np.unique(key, return_inverse=True)
    orders = np.bincount(inverse, minlength=len(keys))
    gmv_by = np.bincount(inverse, weights=gmv, minlength=len(keys)).astype(np.int64)

    accounts = np.flatnonzero(creators.shop >= 0)
    owner = creators.shop[accounts]
    goes_live = (
        shops.active_on(day)[owner]
        & (creators.created_day[accounts] <= day)
        & (rng.random(len(accounts)) < shops.live_prob[owner])
    )
    live_keys = accounts[goes_live] * 2 + LIVE
    base = np.union1d(keys, live_keys)
    extra_n = max(0, target - len(base))
    active = np.flatnonzero((creators.shop < 0) & creators.active_on(day))
    w = np.sqrt(creators.share[active]) + 1e-3
    extra_who = active[np.searchsorted(np.cumsum(w) / w.sum(), rng.random(extra_n))]
    extra_kind = np.where(rng.random(extra_n) < 0.75, VIDEO, LIVE)
    all_keys = np.concatenate([base, extra_who * 2 + extra_kind])
    all_keys.sort(kind="stable")
    first = np.concatenate([[True], all_keys[1:] != all_keys[:-1]])  # sales go to a creator's first item
    n = len(all_keys)
    creator = all_keys // 2
    ctype = (all_keys % 2).astype(np.int8)
    pos = np.searchsorted(keys, all_keys)
    hit = first & (pos < len(keys)) & (keys[np.minimum(pos, len(keys) - 1)] == all_keys)
    att_orders = np.where(hit, orders[np.minimum(pos, len(keys) - 1)], 0)
    att_gmv = np.where(hit, gmv_by[np.minimum(pos, len(keys) - 1)], 0)

    q = creators.content_quality[creator]
    fans = creators.fans_on(day)[creator]
    impressions = np.round(rng.lognormal(np.log(300 + fans * 0.05), 0.8)).astype(np.int64) + att_orders * 40
    open_rate = np.clip(0.008 + 0.12 * q + rng.normal(0, 0.01, n), 0.001, 0.6)
    opens = rng.binomial(impressions, open_rate)
    plays = opens + rng.binomial(opens, 0.15)
    completions = rng.binomial(plays, np.clip(0.04 + 0.42 * q + rng.normal(0, 0.03, n), 0.0, 1.0))
    inter = np.clip(0.004 + 0.09 * q + rng.normal(0, 0.005, n), 0.0, 0.5)
    likes = rng.binomial(plays, inter * 0.75)
    comments = rng.binomial(plays, inter * 0.10)
    shares = rng.binomial(plays, inter * 0.15)
    avg_watch = np.where(ctype == LIVE, 20 + 200 * q, 4 + 62 * q) * rng.lognormal(0, 0.2, n)
    watch_seconds = np.round(plays * avg_watch).astype(np.int64)
    live_minutes = rng.integers(20, 240, n)
    content_no = _ymd(day) * 10**7 + np.arange(1, n + 1)
    cols = {
        "metric_date": csvio.dates(np.full(n, day)),
        "content_id": csvio.ids("CT", content_no, 15),
        "content_type": csvio.labels(ctype, CONTENT_TYPES),
        "creator_id": csvio.ids("C", creator + 1, 6),
        "impressions": csvio.integers(impressions),
        "opens": csvio.integers(opens),
        "plays": csvio.integers(plays),
        "completions": csvio.integers(completions),
        "likes": csvio.integers(likes),
        "comments": csvio.integers(comments),
        "shares": csvio.integers(shares),
        "watch_seconds": csvio.integers(watch_seconds),
        "live_minutes": csvio.integers(live_minutes, valid=ctype == LIVE),
        "attributed_orders": csvio.integers(att_orders),
        "attributed_gmv": csvio.decimals(att_gmv),
    }
    return pa.table({name: cols[name] for name in FEEDS["content_metrics"].column_names})


def violations(world: World, day: int) -> pa.Table:
    """Rulings of the day: rare, and far more frequent for bad shops (and their products)."""
    rng = stream(world.seed, VIOLATIONS, day)
    shops, products, creators = world.shops, world.products, world.creators
    sc = world.scale
    parts = []
    s_active = np.flatnonzero(shops.active_on(day) | (shops.status_day == day))
    s_w = 0.03 + shops.badness[s_active] ** 2
    n_s = rng.poisson(sc.shops * 0.004)
    parts.append((SHOP_SUBJECT, s_active[np.searchsorted(np.cumsum(s_w) / s_w.sum(), rng.random(n_s))]))
    p_live = np.flatnonzero(products.created_day <= day)
    p_w = 0.02 + shops.badness[products.shop[p_live]] ** 2
    n_p = rng.poisson(sc.products * 0.0002)
    parts.append((PRODUCT_SUBJECT, p_live[np.searchsorted(np.cumsum(p_w) / p_w.sum(), rng.random(n_p))]))
    c_live = np.flatnonzero(creators.active_on(day))
    n_c = rng.poisson(sc.creators * 0.0005)
    parts.append((CREATOR_SUBJECT, c_live[rng.integers(0, len(c_live), n_c)]))

    subject_type = np.concatenate([np.full(len(ids), st, dtype=np.int8) for st, ids in parts])
    subject = np.concatenate([ids for _, ids in parts]).astype(np.int64)
    n = len(subject)
    vtype = np.zeros(n, dtype=np.int8)
    for st, mix in VIOLATION_MIX.items():
        m = subject_type == st
        vtype[m] = rng.choice(len(VIOLATION_TYPES), int(m.sum()), p=mix)
    # the worst shops sell fakes: counterfeit rulings on them and their products
    bad_subject = np.where(
        subject_type == SHOP_SUBJECT,
        shops.badness[np.minimum(subject, shops.n - 1)],
        np.where(
            subject_type == PRODUCT_SUBJECT,
            shops.badness[products.shop[np.minimum(subject, products.n - 1)]],
            0,
        ),
    )
    fake = (subject_type != CREATOR_SUBJECT) & (bad_subject > 0.8) & (rng.random(n) < 0.3)
    vtype[fake] = VIOLATION_TYPES.index("counterfeit")
    ruled_at = day_start(day) + rng.integers(9 * 3600, 21 * 3600, n)
    order = np.argsort(ruled_at, kind="stable")
    subject_type, subject, vtype, ruled_at = (
        subject_type[order],
        subject[order],
        vtype[order],
        ruled_at[order],
    )
    subject_id = pc.if_else(
        csvio.flags(subject_type == SHOP_SUBJECT),
        csvio.ids("S", subject + 1, 6),
        pc.if_else(
            csvio.flags(subject_type == CREATOR_SUBJECT),
            csvio.ids("C", subject + 1, 6),
            csvio.ids("P", subject + 1, 7),
        ),
    )
    described = rng.random(n) < 0.8
    case = pc.cast(csvio.integers(rng.integers(100_000, 999_999, n)), pa.string())
    description = pc.if_else(
        csvio.flags(described),
        pc.binary_join_element_wise(
            csvio.labels(vtype, VIOLATION_TYPES), csvio.lit(" ruling, case #"), case, csvio.lit("")
        ),
        pa.nulls(n, pa.string()),
    )
    cols = {
        "violation_id": csvio.ids("VL", _ymd(day) * 10**5 + np.arange(1, n + 1), 13),
        "ruled_at": csvio.timestamps(ruled_at),
        "subject_type": csvio.labels(subject_type, SUBJECT_TYPES),
        "subject_id": subject_id,
        "violation_type": csvio.labels(vtype, VIOLATION_TYPES),
        "description": description,
    }
    return pa.table({name: cols[name] for name in FEEDS["violations"].column_names})
