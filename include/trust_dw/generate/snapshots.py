"""The master snapshots of one day: shops, products, creators, providers, provider_shop_links."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from trust_dw.feeds import (
    BRAND_LEVELS,
    CAPABILITIES,
    CREATOR_STATUSES,
    FEEDS,
    PRODUCT_STATUSES,
    PROVIDER_STATUSES,
    PROVIDER_TYPES,
    SHOP_STATUSES,
)
from trust_dw.generate import csvio
from trust_dw.generate.scales import CATEGORIES
from trust_dw.generate.world import NEVER, World

CATEGORY_IDS = [c[0] for c in CATEGORIES]
CATEGORY_LABELS = [c[1] for c in CATEGORIES]


def _table(feed: str, cols: dict[str, pa.Array]) -> pa.Table:
    return pa.table({name: cols[name] for name in FEEDS[feed].column_names})


def shops(world: World, day: int) -> pa.Table:
    s = world.shops
    idx = np.flatnonzero(s.opened_day <= day)
    return _table(
        "shops",
        {
            "shop_id": csvio.ids("S", idx + 1, 6),
            "shop_name": csvio.names(CATEGORY_LABELS, s.category[idx], "好店", idx + 1, s.name_quirky[idx]),
            "category": csvio.labels(s.category[idx], CATEGORY_IDS),
            "brand_id": csvio.ids("BR", s.brand_id[idx], 5, valid=s.brand_id[idx] > 0),
            "brand_level": csvio.labels(s.brand_level[idx], BRAND_LEVELS),
            "opened_at": csvio.dates(s.opened_day[idx]),
            "fans_at_open": csvio.integers(s.fans_at_open[idx]),
            "fans": csvio.integers(s.fans_on(day)[idx]),
            "status": csvio.labels(s.status_on(day)[idx], SHOP_STATUSES),
        },
    )


def products(world: World, day: int) -> pa.Table:
    p, s = world.products, world.shops
    idx = np.flatnonzero((p.created_day <= day) & (s.opened_day[p.shop] <= day))
    brand = s.brand_id[p.shop[idx]]
    return _table(
        "products",
        {
            "product_id": csvio.ids("P", idx + 1, 7),
            "shop_id": csvio.ids("S", p.shop[idx] + 1, 6),
            "category": csvio.labels(p.category[idx], CATEGORY_IDS),
            "brand_id": csvio.ids("BR", brand, 5, valid=brand > 0),
            "title": csvio.names(CATEGORY_LABELS, p.category[idx], "好物 No.", idx + 1, p.title_quirky[idx]),
            "list_price": csvio.decimals(p.price_cents[idx]),
            "commission_rate": csvio.decimals(p.commission_cents[idx]),
            "created_at": csvio.timestamps(p.created_ts[idx]),
            "status": csvio.labels(p.status_on(day)[idx], PRODUCT_STATUSES),
        },
    )


def creators(world: World, day: int) -> pa.Table:
    c = world.creators
    idx = np.flatnonzero(c.created_day <= day)
    status = (c.banned_day[idx] <= day).astype(np.int8)
    return _table(
        "creators",
        {
            "creator_id": csvio.ids("C", idx + 1, 6),
            "nickname": csvio.names(
                ["达人", "官方直播间"], (c.shop[idx] >= 0).astype(np.int8), "", idx + 1, c.name_quirky[idx]
            ),
            "fans": csvio.integers(c.fans_on(day)[idx]),
            "shop_id": csvio.ids("S", c.shop[idx] + 1, 6, valid=c.shop[idx] >= 0),
            "created_at": csvio.timestamps(c.created_ts[idx]),
            "status": csvio.labels(status, CREATOR_STATUSES),
        },
    )


def providers(world: World, day: int) -> pa.Table:
    v = world.providers
    idx = np.flatnonzero(v.admitted_day <= day)
    changed = v.status_day[idx] <= day
    caps = [";".join(c for c, on in zip(CAPABILITIES, row, strict=True) if on) for row in v.capabilities[idx]]
    return _table(
        "providers",
        {
            "provider_id": csvio.ids("V", idx + 1, 4),
            "provider_name": csvio.names(
                ["服务商"], np.zeros(len(idx), np.int8), "", idx + 1, v.name_quirky[idx]
            ),
            "provider_type": csvio.labels(v.type[idx], PROVIDER_TYPES),
            "capabilities": csvio.strings(caps),
            "admitted_at": csvio.dates(v.admitted_day[idx]),
            "status": csvio.labels(np.where(changed, v.status_after[idx], 0), PROVIDER_STATUSES),
            "updated_at": csvio.timestamps(np.where(changed, v.status_ts[idx], v.admitted_ts[idx])),
        },
    )


def provider_shop_links(world: World, day: int) -> pa.Table:
    lk = world.links
    idx = np.flatnonzero(lk.start_day <= day)
    end = lk.end_day[idx]
    return _table(
        "provider_shop_links",
        {
            "provider_id": csvio.ids("V", lk.provider[idx] + 1, 4),
            "shop_id": csvio.ids("S", lk.shop[idx] + 1, 6),
            "start_date": csvio.dates(lk.start_day[idx]),
            # the end of a link becomes known on the day it ends
            "end_date": csvio.dates(end, valid=(end != NEVER) & (end <= day)),
        },
    )


SNAPSHOTS = {
    "shops": shops,
    "products": products,
    "creators": creators,
    "providers": providers,
    "provider_shop_links": provider_shop_links,
}
