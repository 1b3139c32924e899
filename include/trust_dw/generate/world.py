"""The simulated platform: shops, products, creators, providers and their links (the masters).

The world depends only on (scale, seed, start): every day of a run sees the same entities, and what
changes from day to day (fans, status, a shop opening, a provider switch) is a function of the date, so
any day's snapshot can be produced without generating the days before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trust_dw.generate.rng import WORLD, stream
from trust_dw.generate.scales import CATEGORIES, Calibration, Scale

NEVER = 2**31 - 1  # a day that never comes
# Head shops: explicit GMV shares of the biggest few (brand majors, one white-label giant at rank 3),
# so growth stage SKA and provider tier S exist at `small`; the body below is Zipf-Mandelbrot.
HEAD_SHARES = (0.12, 0.10, 0.085, 0.08, 0.05, 0.04)
HEAD_WHITE_LABEL_RANKS = (3,)
PLATFORM_AOV_CNY = 300.0  # prices are scaled so the expected platform GMV per order is this
# Shop-badness buckets that creators tend to sell for (good creators pick good shops).
BADNESS_BUCKETS = np.array([0.15, 0.30, 0.55])
# Channel order in the mix matrices: feeds.CHANNELS order.
LIVE_SELF, LIVE_DIST, VIDEO_DIST, SHELF = 0, 1, 2, 3
# Probability that an order in a channel comes from the owner's fans (private domain).
FAN_PROB_BY_CHANNEL = np.array([0.60, 0.45, 0.25, 0.30])


@dataclass
class Shops:
    n: int
    rank: np.ndarray  # 1 = biggest
    share: np.ndarray  # expected share of platform GMV
    order_weight: np.ndarray  # relative order rate (share / expected order value)
    category: np.ndarray
    brand_level: np.ndarray  # index into feeds.BRAND_LEVELS
    brand_id: np.ndarray  # -1 = none
    opened_day: np.ndarray
    fans_at_open: np.ndarray
    fans_growth: np.ndarray  # fans per day since opening
    badness: np.ndarray  # quality latent: 0 = excellent, 1 = terrible
    account: np.ndarray  # creator index of the shop's own broadcasting account, -1 = none
    mix: np.ndarray  # (n, 4) channel mix
    status_day: np.ndarray  # the day status changes (NEVER = stays active)
    status_after: np.ndarray  # index into feeds.SHOP_STATUSES after status_day
    live_prob: np.ndarray  # chance the shop account goes live on a day
    name_quirky: np.ndarray  # names with quotes and commas, like real free text

    def active_on(self, day: int) -> np.ndarray:
        return (self.opened_day <= day) & (self.status_day > day)

    def status_on(self, day: int) -> np.ndarray:
        return np.where(self.status_day <= day, self.status_after, 0)

    def fans_on(self, day: int) -> np.ndarray:
        age = np.maximum(day - self.opened_day, 0)
        return self.fans_at_open + np.floor(self.fans_growth * age).astype(np.int64)


@dataclass
class Products:
    n: int
    shop: np.ndarray
    first: np.ndarray  # per shop: index of its first product (products are grouped by shop)
    count: np.ndarray  # per shop: number of products
    popularity: np.ndarray
    category: np.ndarray
    price_cents: np.ndarray
    commission_cents: np.ndarray  # commission rate in hundredths (15 = 0.15)
    created_ts: np.ndarray
    created_day: np.ndarray
    status_day: np.ndarray
    status_after: np.ndarray  # index into feeds.PRODUCT_STATUSES
    volatility: np.ndarray  # daily promotional price swing
    title_quirky: np.ndarray  # titles with quotes and commas

    def on_sale(self, day: int, shops: Shops) -> np.ndarray:
        return (self.created_day <= day) & (self.status_day > day) & shops.active_on(day)[self.shop]

    def status_on(self, day: int) -> np.ndarray:
        return np.where(self.status_day <= day, self.status_after, 0)


@dataclass
class Creators:
    n: int
    shop: np.ndarray  # -1 for distributing creators
    share: np.ndarray  # distributing creators: share of distribution sales within their group
    group: np.ndarray  # which shop-badness bucket they mostly sell for
    content_quality: np.ndarray
    fans0: np.ndarray
    fans_growth: np.ndarray
    created_ts: np.ndarray
    created_day: np.ndarray
    banned_day: np.ndarray
    fan_share: np.ndarray  # share of their distribution orders bought by their fans
    name_quirky: np.ndarray

    def active_on(self, day: int) -> np.ndarray:
        return (self.created_day <= day) & (self.banned_day > day)

    def fans_on(self, day: int) -> np.ndarray:
        age = np.maximum(day - self.created_day, 0)
        return self.fans0 + np.floor(self.fans_growth * age).astype(np.int64)


@dataclass
class Providers:
    n: int
    type: np.ndarray  # index into feeds.PROVIDER_TYPES
    capabilities: np.ndarray  # (n, 5) bool
    admitted_day: np.ndarray
    admitted_ts: np.ndarray
    status_day: np.ndarray
    status_after: np.ndarray  # index into feeds.PROVIDER_STATUSES
    status_ts: np.ndarray
    name_quirky: np.ndarray


@dataclass
class Links:
    provider: np.ndarray
    shop: np.ndarray
    start_day: np.ndarray
    end_day: np.ndarray  # NEVER = open


@dataclass
class Buyers:
    population: int
    # Fan pools: the fans of an owner (a shop for live_self/shelf, a creator for distribution) who buy.
    shop_pool_offset: np.ndarray
    shop_pool_size: np.ndarray
    creator_pool_offset: np.ndarray
    creator_pool_size: np.ndarray


@dataclass
class World:
    scale: Scale
    seed: int
    start_day: int
    cal: Calibration
    shops: Shops
    products: Products
    creators: Creators
    providers: Providers
    links: Links
    buyers: Buyers
    # creators grouped by `group` for weighted draws: order, and [lo, hi) per group
    dist_order: np.ndarray
    dist_group_lo: np.ndarray
    dist_group_hi: np.ndarray


def _shops(scale: Scale, start: int, rng: np.random.Generator, cal: Calibration) -> Shops:
    n = scale.shops
    rank = rng.permutation(n) + 1
    n_head = min(len(HEAD_SHARES), max(n // 20, 1))
    head = rank <= n_head
    body_raw = (rank + cal.shop_r0).astype(float) ** -cal.shop_alpha * rng.lognormal(0.0, cal.shop_sigma, n)
    body_raw[head] = 0.0
    head_total = sum(HEAD_SHARES[:n_head])
    share = body_raw / body_raw.sum() * (1.0 - head_total)
    share[head] = np.asarray(HEAD_SHARES)[rank[head] - 1]

    cat_p = np.array([c[3] for c in CATEGORIES])
    category = rng.choice(len(CATEGORIES), n, p=cat_p / cat_p.sum()).astype(np.int8)

    is_new = (~head) & (rank > n * 0.05) & (rng.random(n) < cal.new_shop_share)
    opened_day = np.where(is_new, start + rng.integers(-75, 46, n), start - rng.integers(91, 1500, n)).astype(
        np.int32
    )
    share = np.where(is_new, share * 0.3, share)
    zero_fans = is_new & (rng.random(n) < cal.new_shop_zero_fans_share)
    fans_at_open = np.where(zero_fans, 0, np.round(rng.lognormal(7.5, 1.6, n) * (1 + share * n))).astype(
        np.int64
    )
    fans_growth = np.where(
        zero_fans, rng.lognormal(3.5, 1.0, n), fans_at_open * rng.uniform(0.0, 0.004, n) + share * n * 5
    )

    bad = (~head) & (rng.random(n) < cal.bad_shop_share)
    badness = np.where(bad, rng.uniform(0.55, 1.0, n), rng.beta(1.3, 6.0, n))
    badness = np.where(head, rng.uniform(0.0, 0.08, n), badness)

    # Brand shops: the head majors (except the white-label giant), then shops of the body in random
    # order until brand shops hold the target share of GMV.
    brand = head & ~np.isin(rank, HEAD_WHITE_LABEL_RANKS)
    need = cal.brand_gmv_share - share[brand].sum()
    for i in rng.permutation(np.flatnonzero(~head)):
        if need <= 0:
            break
        if share[i] <= need * 1.5:
            brand[i] = True
            need -= share[i]
    flagship = brand & ((rank <= 2) | (rng.random(n) < 0.45))
    brand_level = np.where(brand, np.where(flagship, 0, 1), 2).astype(np.int8)
    n_flag = int(flagship.sum())
    brand_id = np.full(n, -1, dtype=np.int64)
    brand_id[flagship] = np.arange(1, n_flag + 1)
    authorized = brand & ~flagship
    n_brands = n_flag + max(3, int(authorized.sum()) // 3)
    brand_id[authorized] = rng.integers(1, n_brands + 1, int(authorized.sum()))

    has_account = head | zero_fans | (rng.random(n) < cal.shop_account_share)
    limit = int(scale.creators * 0.45)
    if has_account.sum() > limit:  # keep room for distributing creators
        keep = np.flatnonzero(has_account)[:limit]
        has_account[:] = False
        has_account[keep] = True
    account = np.full(n, -1, dtype=np.int64)
    account[has_account] = np.arange(int(has_account.sum()))

    mix = np.zeros((n, 4))
    mix[has_account] = rng.dirichlet([3.0, 3.0, 1.5, 2.5], int(has_account.sum()))
    rest = rng.dirichlet([3.0, 1.5, 3.0], int((~has_account).sum()))
    mix[~has_account, 1:] = rest

    status_day = np.full(n, NEVER, dtype=np.int32)
    status_after = np.zeros(n, dtype=np.int8)
    suspended = bad & (rng.random(n) < 0.10)
    status_day[suspended] = start + rng.integers(5, 60, int(suspended.sum()))
    status_after[suspended] = 1
    closed = (~head) & (~suspended) & (rng.random(n) < 0.01)
    status_day[closed] = start + rng.integers(10, 90, int(closed.sum()))
    status_after[closed] = 2

    live_prob = np.where(zero_fans, rng.uniform(0.5, 0.95, n), rng.uniform(0.25, 0.9, n))
    name_quirky = rng.random(n) < 0.02  # names with quotes and commas, like real free text
    return Shops(
        n, rank, share, np.zeros(n), category, brand_level, brand_id, opened_day, fans_at_open,
        fans_growth, badness, account, mix, status_day, status_after, live_prob, name_quirky,
    )  # fmt: skip


def _products(scale: Scale, start: int, shops: Shops, rng: np.random.Generator) -> Products:
    n_s = shops.n
    n = max(scale.products, n_s)
    weights = shops.share**0.35
    count = 1 + rng.multinomial(n - n_s, weights / weights.sum())
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    shop = np.repeat(np.arange(n_s), count)
    within = np.arange(n) - first[shop]
    popularity = (within + 1.0) ** -1.1 * rng.lognormal(0.0, 0.4, n)
    category = np.where(rng.random(n) < 0.9, shops.category[shop], rng.integers(0, len(CATEGORIES), n))
    base = np.array([c[2] for c in CATEGORIES])[category]
    price = base * rng.lognormal(0.0, 0.5, n) * np.where(shops.brand_level[shop] < 2, 1.3, 1.0)
    volatility = np.where(rng.random(n) < 0.55, 0.0, rng.uniform(0.03, 0.35, n))

    # Scale prices so the platform's expected order value is PLATFORM_AOV_CNY (GMV shares stay exact).
    mean_qty = 1.3
    value = price * (1 - volatility / 2) * mean_qty
    shop_value = np.bincount(shop, popularity * value, n_s) / np.bincount(shop, popularity, n_s)
    platform_aov = 1.0 / np.sum(shops.share / shop_value)
    price = price * (PLATFORM_AOV_CNY / platform_aov)
    shops.order_weight = shops.share / (shop_value * PLATFORM_AOV_CNY / platform_aov)
    price_cents = np.where(price >= 10, np.round(price) * 100 - 10, np.round(price * 100)).astype(np.int64)
    price_cents = np.maximum(price_cents, 100)

    commission_cents = rng.integers(5, 41, n)
    opened = shops.opened_day[shop].astype(np.int64)
    launch = rng.random(n) < 0.07
    created_day = np.where(launch, start + rng.integers(0, 60, n), start - rng.integers(0, 400, n))
    created_day = np.maximum(created_day, opened)
    created_day[first] = opened[first]  # every shop has a product from its first day
    created_ts = (created_day * 86_400 - 8 * 3600) + rng.integers(8 * 3600, 22 * 3600, n)

    status_day = np.full(n, NEVER, dtype=np.int64)
    status_after = np.zeros(n, dtype=np.int8)
    off = rng.random(n) < 0.04
    status_day[off] = start + rng.integers(-30, 90, int(off.sum()))
    status_after[off] = 1
    banned = (~off) & (rng.random(n) < 0.002 + 0.05 * shops.badness[shop] ** 2)
    status_day[banned] = start + rng.integers(3, 40, int(banned.sum()))
    status_after[banned] = 2
    status_day = np.maximum(status_day, created_day + 1)
    status_day[first] = NEVER  # a shop's first product stays on sale so every shop can sell

    title_quirky = rng.random(n) < 0.01
    return Products(
        n, shop, first, count, popularity, category.astype(np.int8), price_cents, commission_cents,
        created_ts, created_day.astype(np.int64), status_day, status_after, volatility, title_quirky,
    )  # fmt: skip


def _creators(scale: Scale, start: int, shops: Shops, rng: np.random.Generator, cal: Calibration) -> Creators:
    n = scale.creators
    n_acc = int((shops.account >= 0).sum())
    shop = np.full(n, -1, dtype=np.int64)
    owners = np.flatnonzero(shops.account >= 0)
    shop[shops.account[owners]] = owners
    is_acc = shop >= 0
    n_d = n - n_acc
    rank = rng.permutation(n_d) + 1
    share = np.zeros(n)
    share[n_acc:] = (rank + cal.creator_r0) ** -cal.creator_alpha * rng.lognormal(0, 0.5, n_d)
    group = rng.choice(4, n, p=[0.35, 0.30, 0.20, 0.15]).astype(np.int8)
    quality = np.clip(rng.beta(2.2, 2.0, n) + (1.5 - group) * 0.08, 0.0, 1.0)
    fans0 = np.where(
        is_acc,
        shops.fans_at_open[np.maximum(shop, 0)] // 2,
        np.round(rng.lognormal(8.0, 1.5, n) * (1 + share * n_d * 3)),
    ).astype(np.int64)
    fans_growth = fans0 * rng.uniform(0.0, 0.005, n) + rng.lognormal(2.0, 1.0, n)
    created_day = np.where(
        is_acc,
        shops.opened_day[np.maximum(shop, 0)].astype(np.int64) + rng.integers(0, 3, n),
        np.where(rng.random(n) < 0.03, start + rng.integers(0, 45, n), start - rng.integers(30, 1500, n)),
    )
    created_day = np.where(
        is_acc, np.minimum(created_day, shops.opened_day[np.maximum(shop, 0)]), created_day
    )
    created_ts = created_day * 86_400 - 8 * 3600 + rng.integers(0, 86_400, n)
    banned_day = np.full(n, NEVER, dtype=np.int64)
    banned = (~is_acc) & (rng.random(n) < 0.01)
    banned_day[banned] = start + rng.integers(5, 60, int(banned.sum()))
    fan_share = rng.uniform(0.1, 0.7, n)
    name_quirky = rng.random(n) < 0.02
    return Creators(
        n, shop, share, group, quality, fans0, fans_growth, created_ts, created_day, banned_day,
        fan_share, name_quirky,
    )  # fmt: skip


def _providers(scale: Scale, start: int, shops: Shops, rng: np.random.Generator) -> tuple[Providers, Links]:
    n = scale.providers
    ptype = np.where(
        np.arange(n) < 2, 0, np.where(np.arange(n) < max(3, n // 8), 1, rng.integers(2, 5, n))
    ).astype(np.int8)
    n_caps = np.clip(np.where(np.arange(n) < 3, 5, rng.integers(1, 6, n)), 1, 5)
    order = np.argsort(rng.random((n, 5)), axis=1)
    capabilities = order < n_caps[:, None]
    admitted_day = start - rng.integers(60, 900, n)
    admitted_ts = admitted_day * 86_400 - 8 * 3600 + rng.integers(9 * 3600, 18 * 3600, n)
    status_day = np.full(n, NEVER, dtype=np.int64)
    status_after = np.zeros(n, dtype=np.int8)
    if n >= 10:  # one provider is suspended and one exits during the run
        status_day[n - 1], status_after[n - 1] = start + 12, 1
        status_day[n - 2], status_after[n - 2] = start + 20, 2
    status_ts = status_day * 86_400 - 8 * 3600 + 10 * 3600
    name_quirky = rng.random(n) < 0.05
    providers = Providers(
        n, ptype, capabilities, admitted_day, admitted_ts, status_day, status_after, status_ts, name_quirky
    )

    # Links: head shops concentrate on the first providers (so one reaches tier S at `small`), the
    # body is spread over a Zipf of providers; some shops switched provider before or during the run.
    linked = (shops.rank <= len(HEAD_SHARES)) | (rng.random(shops.n) < 0.6)
    p_weight = (np.arange(n) + 2.0) ** -1.0
    provider = np.searchsorted(np.cumsum(p_weight) / p_weight.sum(), rng.random(shops.n))
    provider = np.minimum(provider, n - 1)
    head_map = {1: 0, 4: 0, 2: 1, 6: 1, 3: 2, 5: 2}
    for r, p in head_map.items():
        provider[shops.rank == r] = min(p, n - 1)
    sid = np.flatnonzero(linked)
    start_day = np.maximum(shops.opened_day[sid].astype(np.int64), start - rng.integers(0, 600, len(sid)))
    start_day = np.maximum(start_day, admitted_day[provider[sid]])
    end_day = np.full(len(sid), NEVER, dtype=np.int64)
    prov = provider[sid]
    body = shops.rank[sid] > len(HEAD_SHARES)
    # switched before the run: an older, ended link to another provider
    before = body & (rng.random(len(sid)) < 0.10) & (start_day > admitted_day.max() + 2)
    old_prov = (prov[before] + 1 + rng.integers(0, max(n - 1, 1), int(before.sum()))) % n
    old_start = np.maximum(
        start_day[before] - rng.integers(30, 300, int(before.sum())), admitted_day[old_prov]
    )
    old_end = start_day[before] - 1
    # switching during the run
    during = body & ~before & (rng.random(len(sid)) < 0.03)
    switch = start + rng.integers(1, 60, int(during.sum()))
    new_prov = (prov[during] + 1 + rng.integers(0, max(n - 1, 1), int(during.sum()))) % n
    end_day[during] = switch
    links = Links(
        provider=np.concatenate([prov, old_prov, new_prov]),
        shop=np.concatenate([sid, sid[before], sid[during]]),
        start_day=np.concatenate([start_day, old_start, switch + 1]),
        end_day=np.concatenate([end_day, old_end, np.full(int(during.sum()), NEVER)]),
    )
    keep = links.start_day <= np.where(links.end_day == NEVER, links.start_day, links.end_day)
    order = np.lexsort((links.start_day[keep], links.shop[keep], links.provider[keep]))
    links = Links(*(a[keep][order] for a in (links.provider, links.shop, links.start_day, links.end_day)))
    return providers, links


def _buyers(
    scale: Scale, shops: Shops, creators: Creators, rng: np.random.Generator, cal: Calibration
) -> Buyers:
    population = max(1_000, int(scale.orders_per_day * 30 / cal.orders_per_buyer_30d))
    opd = scale.orders_per_day
    w = shops.order_weight / shops.order_weight.sum()
    shop_fan_orders = opd * 30 * w * (shops.mix[:, LIVE_SELF] * 0.6 + shops.mix[:, SHELF] * 0.3)
    repeat = rng.uniform(1.5, 4.5, shops.n)
    shop_pool = np.maximum(2, np.ceil(shop_fan_orders / repeat)).astype(np.int64)
    dist_orders = opd * 30 * float(np.sum(w * (shops.mix[:, LIVE_DIST] + shops.mix[:, VIDEO_DIST])))
    group_total = np.bincount(creators.group, creators.share, 4)
    group_p = np.array([0.45, 0.28, 0.17, 0.10])
    c_orders = (
        dist_orders
        * group_p[creators.group]
        * creators.share
        / np.maximum(group_total[creators.group], 1e-12)
    )
    c_repeat = rng.uniform(1.2, 4.5, creators.n)
    creator_pool = np.maximum(2, np.ceil(c_orders * creators.fan_share / c_repeat)).astype(np.int64)
    return Buyers(
        population,
        rng.integers(0, population, shops.n),
        shop_pool,
        rng.integers(0, population, creators.n),
        creator_pool,
    )


def build_world(scale: Scale, seed: int, start_day: int, cal: Calibration | None = None) -> World:
    cal = cal or Calibration()
    rng = stream(seed, WORLD, start_day)
    shops = _shops(scale, start_day, rng, cal)
    products = _products(scale, start_day, shops, rng)
    creators = _creators(scale, start_day, shops, rng, cal)
    providers, links = _providers(scale, start_day, shops, rng)
    buyers = _buyers(scale, shops, creators, rng, cal)
    dist = np.flatnonzero(creators.shop < 0)
    dist_order = dist[np.argsort(creators.group[dist], kind="stable")]
    groups = creators.group[dist_order]
    lo = np.searchsorted(groups, np.arange(4), side="left")
    hi = np.searchsorted(groups, np.arange(4), side="right")
    return World(
        scale, seed, start_day, cal, shops, products, creators, providers, links, buyers, dist_order, lo, hi
    )
