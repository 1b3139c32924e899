"""A small working DuckDB file with good candidate tables (DESIGN §7) for the gate and publish tests.

``build_warehouse`` writes, for each ds: the five ``marts`` candidate tables with hand-made rows that pass
every gate check, the ingest ledger, the W30 shop window the coverage check reads, and the seeds the gate
reads (``seeds.gate_thresholds`` and the flow pool seeds, straight from the repo's CSV files).
Tests break one thing at a time with a SQL statement (:func:`mutate`).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
from trust_dw.config import Settings
from trust_dw.feeds import FEEDS
from trust_dw.warehouse import connect

DATES = ("2026-01-01", "2026-01-02", "2026-01-03")

# shop_id, experience_score, grade, score_status, stars, settlement_days, growth_stage, cohort_orders
SHOPS = [
    ("S001", 92.5, "excellent", "scored", 4.85, 7, "industry_ka", 1200),
    ("S002", 77.5, "good", "scored", 4.55, 15, "climbing", 640),
    ("S003", 81.0, "good", "scored", 4.62, 15, "climbing", 300),
    ("S004", 65.0, "fair", "scored", 4.30, 20, "climbing", 90),
    ("S005", 40.0, "poor", "scored", 3.80, 20, "new_store", 31),
    ("S006", 55.0, "fair", "provisional", None, 20, "new_store", 12),
]
# creator_id, reputation_score, score_status, cohort_orders
CREATORS = [
    ("C001", 88.0, "scored", 500),
    ("C002", 72.25, "scored", 80),
    ("C003", 35.5, "scored", 40),
    ("C004", 61.0, "provisional", 5),
]
# product_id, shop_id, product_score, tier, gate_reason, cohort_orders  (1 of 10 products is L5)
PRODUCTS = [
    ("P001", "S005", 30.0, "L0", "banned", 3),
    ("P002", "S004", 35.0, "L1", None, 12),
    ("P003", "S004", 50.0, "L2", None, 40),
    ("P004", "S003", 60.0, "L3", None, 60),
    ("P005", "S002", 66.0, "L3", None, 80),
    ("P006", "S002", 80.0, "L4", None, 150),
    ("P007", "S001", 90.0, "L5", None, 300),
    ("P008", "S001", 84.0, "L4", None, 420),
    ("P009", "S003", 72.0, "L4", None, 110),
    ("P010", "S002", 56.0, "L3", None, 20),
]
# provider_id, provider_type, provider_score, tier, action, served_shops, gmv_w30
PROVIDERS = [
    ("V001", "strategic_core", 85.0, "S", "keep", 3, 120_000_000.0),
    ("V002", "core_base", 58.0, "B", "warn", 2, 1_200_000.0),
    ("V003", "local_quality", 41.0, "C", "exit", 1, 9_000.0),
]
# pool_id, recipient_type, recipient_id, weight, impressions, capped — caps: chuanliu shops 5,753,424,
# creators 2,465,753; cold_start 1,095,890; selected_goods 273,972. Σ per pool = its budget.
FLOW = [
    ("chuanliu", "shop", "S001", 10.0, 5_753_424, True),
    ("chuanliu", "shop", "S003", 8.0, 5_753_424, True),
    ("chuanliu", "shop", "S002", 6.0, 5_753_424, True),
    ("chuanliu", "creator", "C001", 3.0, 2_465_753, True),
    ("chuanliu", "creator", "C002", 1.0, 2_465_753, True),
    ("chuanliu", "reserve", "reserve", None, 142_191_783, False),
    ("cold_start", "shop", "S006", 0.9, 1_095_890, True),
    ("cold_start", "reserve", "reserve", None, 53_698_630, False),
    ("selected_goods", "product", "P007", 2.7e7, 273_972, True),
    ("selected_goods", "reserve", "reserve", None, 27_123_288, False),
]
SEEDS = {
    "gate_thresholds": "quality/gate_thresholds.csv",
    "flow_pools": "flow/flow_pools.csv",
    "flow_pool_parts": "flow/flow_pool_parts.csv",
    "flow_eligibility_rules": "flow/flow_eligibility_rules.csv",
}
POOL_BUDGET = {"chuanliu": 164_383_561, "cold_start": 54_794_520, "selected_goods": 27_397_260}

SHOP_INDICATORS = (
    "quality_refund_rate",
    "negative_review_rate",
    "collect_48h_rate",
    "avg_delivery_hours",
    "refund_sla_rate",
    "dispute_rate",
)
CREATOR_INDICATORS = (
    "open_rate",
    "completion_rate",
    "interaction_rate",
    "avg_watch_seconds",
    "quality_refund_rate",
    "negative_review_rate",
    "dispute_rate",
    "repeat_buyer_rate",
)

DDL = """
create schema if not exists marts;
create schema if not exists seeds;
create schema if not exists ingest;
create schema if not exists intermediate;
create table if not exists marts.shop_scores_daily (
    ds date, shop_id varchar, cohort_orders bigint, gmv decimal(18, 2),
    {shop_indicators},
    product_experience_score decimal(5, 2), logistics_score decimal(5, 2), after_sales_score decimal(5, 2),
    deductions decimal(5, 2), experience_score decimal(5, 2), stars decimal(3, 2), grade varchar,
    score_status varchar, effective_score decimal(5, 2), rights varchar[], settlement_days integer,
    growth_stage varchar,
    self_broadcast_share double, distribution_share double, shelf_share double, fan_share double,
    repeat_buyer_rate double
);
create table if not exists marts.creator_scores_daily (
    ds date, creator_id varchar, cohort_orders bigint, gmv decimal(18, 2),
    {creator_indicators},
    content_score decimal(5, 2), sold_goods_score decimal(5, 2), trust_score decimal(5, 2),
    deductions decimal(5, 2), reputation_score decimal(5, 2), stars decimal(3, 2), score_status varchar,
    effective_score decimal(5, 2)
);
create table if not exists marts.product_tiers_daily (
    ds date, product_id varchar, shop_id varchar, category varchar, cohort_orders bigint, gmv decimal(18, 2),
    brand_score decimal(5, 2), price_score decimal(5, 2), distribution_score decimal(5, 2),
    service_score decimal(5, 2), sales_score decimal(5, 2), product_score decimal(5, 2), tier varchar,
    is_selected_goods boolean, gate_reason varchar
);
create table if not exists marts.provider_tiers_daily (
    ds date, provider_id varchar, provider_type varchar, served_shops integer, gmv_w30 decimal(18, 2),
    annualized_gmv decimal(18, 2), provider_score decimal(5, 2), tier varchar, action varchar
);
create table if not exists marts.flow_allocation_daily (
    ds date, effective_ds date, pool_id varchar, recipient_type varchar, recipient_id varchar,
    weight decimal(38, 10), impressions bigint, share decimal(18, 12), rank integer, capped boolean
);
create table if not exists intermediate.int_shop_window__w30 (ds date, shop_id varchar, cohort_orders bigint);
create table if not exists ingest.load_ledger (
    feed varchar, ds date, status varchar, files integer, rows_read bigint, rows_loaded bigint,
    rows_quarantined bigint, quarantine_share double, drift_columns varchar[], message varchar,
    loaded_at timestamptz
);
"""


def _indicator_columns(names: tuple[str, ...]) -> str:
    return ", ".join(f"{n} double, {n}_score decimal(5, 2)" for n in names)


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    marks = ", ".join("?" for _ in rows[0])
    con.executemany(f"insert into {table} values ({marks})", rows)


def write_ds(con: duckdb.DuckDBPyConnection, ds: str, shift: float = 0.0) -> None:
    """Replace the candidates and the ledger of ``ds``; scores move by ``shift`` points (still valid)."""
    for table in ("shop_scores_daily", "creator_scores_daily", "product_tiers_daily"):
        con.execute(f"delete from marts.{table} where ds = ?", [ds])
    for table in ("provider_tiers_daily", "flow_allocation_daily"):
        con.execute(f"delete from marts.{table} where ds = ?", [ds])
    con.execute("delete from ingest.load_ledger where ds = ?", [ds])
    con.execute("delete from intermediate.int_shop_window__w30 where ds = ?", [ds])
    _insert(con, "intermediate.int_shop_window__w30", [(ds, s[0], s[7]) for s in SHOPS])
    ind_shop = [v for _ in SHOP_INDICATORS for v in (0.01, 80.0)]
    ind_creator = [v for _ in CREATOR_INDICATORS for v in (0.05, 70.0)]
    _insert(
        con,
        "marts.shop_scores_daily",
        [
            (ds, sid, orders, 1000.0 * orders, *ind_shop, 80.0, 75.0, 90.0, 0.0, score + shift, stars,
             grade, status, score + shift if status == "scored" else 70.0, ["fake_one_pay_ten"], days, stage,
             0.2, 0.5, 0.3, 0.4, 0.6)
            for sid, score, grade, status, stars, days, stage, orders in SHOPS
        ],
    )  # fmt: skip
    _insert(
        con,
        "marts.creator_scores_daily",
        [
            (ds, cid, orders, 500.0 * orders, *ind_creator, 70.0, 75.0, 60.0, 0.0, score + shift,
             None if status == "provisional" else round(3 + 2 * (score + shift) / 100, 2), status,
             score + shift if status == "scored" else 70.0)
            for cid, score, status, orders in CREATORS
        ],
    )  # fmt: skip
    _insert(
        con,
        "marts.product_tiers_daily",
        [
            (ds, pid, sid, "beauty", orders, 99.0 * orders, 80.0, 70.0, 40.0, 75.0, 60.0, score + shift,
             tier, tier == "L5", reason)
            for pid, sid, score, tier, reason, orders in PRODUCTS
        ],
    )  # fmt: skip
    _insert(
        con,
        "marts.provider_tiers_daily",
        [
            (ds, vid, vtype, served, gmv, gmv * 365 / 30, score, tier, action)
            for vid, vtype, score, tier, action, served, gmv in PROVIDERS
        ],
    )
    effective = (date.fromisoformat(ds) + timedelta(days=1)).isoformat()
    _insert(
        con,
        "marts.flow_allocation_daily",
        [
            (ds, effective, pool, rtype, rid, weight, imp, imp / POOL_BUDGET[pool],
             None if rtype == "reserve" else 1, capped)
            for pool, rtype, rid, weight, imp, capped in FLOW
        ],
    )  # fmt: skip
    _insert(
        con,
        "ingest.load_ledger",
        [
            (feed, ds, "loaded", 1, 1000, 995, 5, 0.005, [], None, "2026-01-05 00:00:00+00")
            for feed in sorted(FEEDS)
        ],
    )


def build_warehouse(settings: Settings, dates: tuple[str, ...] = DATES) -> Path:
    """Create the working file of ``settings`` with good candidates for every ds of ``dates``."""
    with connect(settings) as con:
        con.execute(
            DDL.format(
                shop_indicators=_indicator_columns(SHOP_INDICATORS),
                creator_indicators=_indicator_columns(CREATOR_INDICATORS),
            )
        )
        for name, csv in SEEDS.items():  # the repo's own seed files, as dbt seed loads them
            path = settings.repo_root / "dbt_project" / "seeds" / csv
            con.execute(
                f"create or replace table seeds.{name} as select * from read_csv('{path}', header = true)"
            )
        for i, ds in enumerate(dates):
            write_ds(con, ds, shift=float(i) / 4)
    return settings.warehouse_path


def mutate(settings: Settings, *statements: str) -> None:
    """Apply SQL statements to the working file (to break one check)."""
    with connect(settings) as con:
        for sql in statements:
            con.execute(sql)
