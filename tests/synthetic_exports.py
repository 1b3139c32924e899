"""Synthetic published snapshots in exactly the layout of DESIGN §9, for the consumers' tests and bench.

``write_partition`` / ``write_latest`` use the publish stage's own writer (trust_dw.publish), so the
files are exactly what production publishes. ``write_tiny_exports`` writes a small hand-made set whose
values the tests assert; ``write_scaled_exports`` writes many rows (for bench/bench_api.py).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
from trust_dw import publish
from trust_dw.config import Settings

DATES = [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)]
LATEST_DS = DATES[-1]
INCOMPLETE_DS = date(2026, 1, 4)  # shop_scores_daily only, written without _SUCCESS
RUN_ID = "synthetic-run"
CODE_VERSION = "test"

# --- the hand-made rows of LATEST_DS; earlier dates shift the scores down by 1 point per day --------
SHOPS = [
    # shop_id, experience_score, grade, score_status, stars, growth_stage
    ("S001", 92.5, "excellent", "scored", 4.85, "industry_ka"),
    ("S002", 77.5, "good", "scored", 4.55, "climbing"),
    ("S003", 81.0, "good", "scored", 4.62, "climbing"),
    ("S004", 65.0, "fair", "scored", 4.30, "climbing"),
    ("S005", 40.0, "poor", "scored", 3.80, "new_store"),
    ("S006", 55.0, "fair", "provisional", None, "new_store"),
]
CREATORS = [
    ("C001", 88.0, "scored"),
    ("C002", 72.25, "scored"),
    ("C003", 35.5, "scored"),
    ("C004", 61.0, "provisional"),
]
PRODUCTS = [
    # product_id, shop_id, product_score, tier, gate_reason
    ("P001", "S005", 30.0, "L0", "banned"),
    ("P002", "S004", 35.0, "L1", None),
    ("P003", "S004", 50.0, "L2", None),
    ("P004", "S003", 60.0, "L3", None),
    ("P005", "S002", 66.0, "L3", None),
    ("P006", "S002", 80.0, "L4", None),
    ("P007", "S001", 90.0, "L5", None),
    ("P008", "S001", 95.5, "L5", None),
]
PROVIDERS = [
    ("V001", "strategic_core", "S", "keep"),
    ("V002", "core_base", "B", "warn"),
    ("V003", "local_quality", "C", "exit"),
]
# pool_id, recipient_type, recipient_id, impressions, capped  (Σ per pool = the pool's budget)
FLOW = [
    ("chuanliu", "shop", "S001", 5_753_424, True),
    ("chuanliu", "shop", "S003", 5_753_424, True),
    ("chuanliu", "shop", "S002", 5_753_424, True),
    ("chuanliu", "creator", "C001", 2_465_753, True),
    ("chuanliu", "creator", "C002", 1_000_000, False),
    ("chuanliu", "reserve", "reserve", 143_657_536, False),
    ("cold_start", "shop", "S006", 1_095_890, True),
    ("cold_start", "reserve", "reserve", 53_698_630, False),
    ("selected_goods", "product", "P008", 273_972, True),
    ("selected_goods", "product", "P007", 273_972, True),
    ("selected_goods", "reserve", "reserve", 26_849_316, False),
]
POOL_BUDGET = {"chuanliu": 164_383_561, "cold_start": 54_794_520, "selected_goods": 27_397_260}


def _money(x: float) -> Decimal:
    return Decimal(f"{x:.2f}")


def shop_rows(ds: date) -> pa.Table:
    shift = (LATEST_DS - ds).days
    n = len(SHOPS)
    return pa.table(
        {
            "ds": pa.array([ds] * n, pa.date32()),
            "shop_id": [s[0] for s in SHOPS],
            "cohort_orders": pa.array([1200, 640, 300, 90, 31, 12], pa.int64()),
            "gmv": pa.array(
                [_money(v) for v in (1_250_000.5, 98_000, 45_000.25, 9_000, 2_000, 600)], pa.decimal128(18, 2)
            ),
            "quality_refund_rate": [0.004, 0.0275, 0.01, 0.03, 0.06, 0.0],
            "quality_refund_rate_score": [100.0, 50.0, 88.89, 44.44, 0.0, 100.0],
            "experience_score": pa.array([_money(s[1] - shift) for s in SHOPS], pa.decimal128(5, 2)),
            "stars": pa.array([None if s[4] is None else _money(s[4]) for s in SHOPS], pa.decimal128(3, 2)),
            "grade": [s[2] for s in SHOPS],
            "score_status": [s[3] for s in SHOPS],
            "rights": pa.array(
                [
                    ["refund_without_return", "return_shipping_subsidy", "fake_one_pay_ten"],
                    ["return_shipping_subsidy", "fake_one_pay_ten"],
                    ["return_shipping_subsidy", "fake_one_pay_ten"],
                    ["fake_one_pay_ten"],
                    [],
                    ["fake_one_pay_ten"],
                ],
                pa.list_(pa.string()),
            ),
            "settlement_days": pa.array([7, 15, 15, 20, 20, 20], pa.int32()),
            "growth_stage": [s[5] for s in SHOPS],
        }
    )


def creator_rows(ds: date) -> pa.Table:
    shift = (LATEST_DS - ds).days
    return pa.table(
        {
            "ds": pa.array([ds] * len(CREATORS), pa.date32()),
            "creator_id": [c[0] for c in CREATORS],
            "cohort_orders": pa.array([500, 80, 40, 5], pa.int64()),
            "reputation_score": pa.array([_money(c[1] - shift) for c in CREATORS], pa.decimal128(5, 2)),
            "score_status": [c[2] for c in CREATORS],
        }
    )


def product_rows(ds: date) -> pa.Table:
    shift = (LATEST_DS - ds).days
    return pa.table(
        {
            "ds": pa.array([ds] * len(PRODUCTS), pa.date32()),
            "product_id": [p[0] for p in PRODUCTS],
            "shop_id": [p[1] for p in PRODUCTS],
            "category": ["beauty"] * 4 + ["food"] * 4,
            "cohort_orders": pa.array([3, 12, 40, 60, 80, 150, 300, 420], pa.int64()),
            "product_score": pa.array([_money(p[2] - shift) for p in PRODUCTS], pa.decimal128(5, 2)),
            "tier": [p[3] for p in PRODUCTS],
            "is_selected_goods": [p[3] == "L5" for p in PRODUCTS],
            "gate_reason": [p[4] for p in PRODUCTS],
        }
    )


def provider_rows(ds: date) -> pa.Table:
    return pa.table(
        {
            "ds": pa.array([ds] * len(PROVIDERS), pa.date32()),
            "provider_id": [p[0] for p in PROVIDERS],
            "provider_type": [p[1] for p in PROVIDERS],
            "provider_score": [85.0, 62.0, 41.0],
            "tier": [p[2] for p in PROVIDERS],
            "action": [p[3] for p in PROVIDERS],
        }
    )


def flow_rows(ds: date) -> pa.Table:
    ranks: list[int | None] = []
    for pool, rtype, rid, _imp, _capped in FLOW:
        if rtype == "reserve":
            ranks.append(None)
            continue
        same = sorted(
            (f for f in FLOW if f[0] == pool and f[1] == rtype), key=lambda f: (-f[3], f[2])
        )  # rank: most impressions first, ties by recipient id
        ranks.append([f[2] for f in same].index(rid) + 1)
    return pa.table(
        {
            "ds": pa.array([ds] * len(FLOW), pa.date32()),
            "effective_ds": pa.array([ds + timedelta(days=1)] * len(FLOW), pa.date32()),
            "pool_id": [f[0] for f in FLOW],
            "recipient_type": [f[1] for f in FLOW],
            "recipient_id": [f[2] for f in FLOW],
            "impressions": pa.array([f[3] for f in FLOW], pa.int64()),
            "share": [f[3] / POOL_BUDGET[f[0]] for f in FLOW],
            "rank": pa.array(ranks, pa.int32()),
            "capped": [f[4] for f in FLOW],
        }
    )


BUILDERS = {
    "shop_scores_daily": shop_rows,
    "creator_scores_daily": creator_rows,
    "product_tiers_daily": product_rows,
    "provider_tiers_daily": provider_rows,
    "flow_allocation_daily": flow_rows,
}


def write_partition(exports: Path, table: str, ds: date, data: pa.Table, complete: bool = True) -> Path:
    """Publish one partition with the publish stage's own writer; ``complete=False`` then drops _SUCCESS."""
    if exports.name != "exports":
        raise ValueError(f"{exports} must be a TRUST_DW_HOME's exports folder")
    columns = [{"name": f.name, "type": str(f.type)} for f in data.schema]
    written = publish.write_partition(
        Settings(home=exports.parent),
        table,
        ds.isoformat(),
        data,
        columns,
        run_id=RUN_ID,
        version=CODE_VERSION,
    )
    if not complete:
        (written.path / publish.SUCCESS_FILE).unlink()
    return written.path


def write_latest(exports: Path, table: str, ds: date) -> None:
    publish.update_latest(Settings(home=exports.parent), table, ds.isoformat())


def write_tiny_exports(exports: Path) -> Path:
    """The hand-made exports: 3 complete dates of every table, one incomplete shop partition."""
    for table, build in BUILDERS.items():
        for ds in DATES:
            write_partition(exports, table, ds, build(ds))
        write_latest(exports, table, LATEST_DS)
    write_partition(exports, "shop_scores_daily", INCOMPLETE_DS, shop_rows(INCOMPLETE_DS), complete=False)
    return exports


def write_scaled_exports(
    exports: Path, shops: int, products: int, days: int, start: date, seed: int = 7
) -> None:
    """Many rows of shop_scores_daily and product_tiers_daily (ids S%07d / P%08d), for the bench."""
    rng = np.random.default_rng(seed)
    shop_ids = pa.array([f"S{n:07d}" for n in range(shops)])
    product_ids = pa.array([f"P{n:08d}" for n in range(products)])
    product_shop = pa.array([f"S{n % shops:07d}" for n in range(products)])
    for i in range(days):
        ds = start + timedelta(days=i)
        shop_scores = np.round(rng.uniform(0, 100, shops), 2)
        shop_table = pa.table(
            {
                "ds": pa.array([ds], pa.date32()).take(np.zeros(shops, dtype=np.int64)),
                "shop_id": shop_ids,
                "cohort_orders": rng.integers(1, 5000, shops),
                "experience_score": shop_scores,
                "grade": np.where(
                    shop_scores >= 90, "excellent", np.where(shop_scores >= 75, "good", "fair")
                ),
            }
        )
        write_partition(exports, "shop_scores_daily", ds, shop_table)
        product_scores = np.round(rng.uniform(0, 100, products), 2)
        product_table = pa.table(
            {
                "ds": pa.array([ds], pa.date32()).take(np.zeros(products, dtype=np.int64)),
                "product_id": product_ids,
                "shop_id": product_shop,
                "product_score": product_scores,
                "tier": np.where(product_scores >= 85, "L5", np.where(product_scores >= 55, "L3", "L1")),
            }
        )
        write_partition(exports, "product_tiers_daily", ds, product_table)
    for table in ("shop_scores_daily", "product_tiers_daily"):
        write_latest(exports, table, start + timedelta(days=days - 1))


def build_partition_table(table: str, ds: date) -> pa.Table:
    """The hand-made rows of ``table`` for ``ds``."""
    return BUILDERS[table](ds)
