"""Verification of a day's outputs, so that a fast wrong run cannot pass the benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trust_dw.config import Settings

# The seven daily aggregates of models/core/ as group-bys over every order contribution row:
# (key expressions, row filter, measures). A second statement of their definitions, kept independent of
# the dbt macro so that it can check it: tests/test_dbt_warehouse.py compares every cell, the bench
# compares each measure's total.
ALL_MEASURES = (
    "cohort_orders", "gmv", "quantity", "delivered_orders", "delivery_seconds_sum", "quality_refund_orders",
    "reviews", "negative_reviews", "collect_due_orders", "collected_48h_orders", "refunds_completed",
    "refunds_within_sla", "dispute_orders", "gmv_live_self", "gmv_distribution", "gmv_shelf", "gmv_fan",
    "distribution_orders",
)  # fmt: skip
ORDER_AGGREGATES: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "core.agg_shop_daily": (("shop_id",), "true", ALL_MEASURES),
    "core.agg_creator_daily": (("creator_id",), "creator_id is not null", ALL_MEASURES),
    "core.agg_product_daily": (("product_id",), "true", ALL_MEASURES),
    "core.agg_shop_buyer_daily": (("shop_id", "buyer_id"), "true", ("cohort_orders",)),
    "core.agg_creator_buyer_daily": (
        ("creator_id", "buyer_id"),
        "creator_id is not null",
        ("cohort_orders",),
    ),
    "core.agg_product_buyer_daily": (("product_id", "buyer_id"), "true", ("cohort_orders",)),
    "core.agg_distribution_daily": (
        ("coalesce(creator_id, '-1') as creator_id", "shop_id", "product_id"),
        "is_distribution",
        ("distribution_orders", "gmv_distribution"),
    ),
}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


def landing_records(path: Path) -> int:
    """Data records of a landing file: Parquet rows, or CSV lines minus the header.

    The generator never writes a line break inside a field (docs/generator.md), so lines = records.
    """
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)


def verify_day(settings: Settings, ds: str) -> list[Check]:
    """Check what the day's run left behind against its inputs and the §6/§7 invariants."""
    from trust_dw.feeds import FEED_NAMES
    from trust_dw.ingest.readers import list_data_files
    from trust_dw.publish import PUBLISHED_TABLES, verify_partition
    from trust_dw.warehouse import connect

    checks: list[Check] = []
    with connect(settings, read_only=True) as con:
        ledger = {
            feed: (read, loaded, quarantined)
            for feed, read, loaded, quarantined in con.execute(
                "select feed, rows_read, rows_loaded, rows_quarantined from ingest.load_ledger "
                "where ds = cast($ds as date) and status = 'loaded'",
                {"ds": ds},
            ).fetchall()
        }
        for feed in FEED_NAMES:
            landed = sum(landing_records(p) for p in list_data_files(settings.feed_ds_dir(feed, ds)))
            read, loaded, quarantined = ledger.get(feed, (None, None, None))
            raw = con.execute(
                f"select count(*) from raw.{feed} where _ds = cast($ds as date)", {"ds": ds}
            ).fetchone()[0]
            ok = read == landed and read == loaded + quarantined and raw == loaded
            checks.append(
                Check(
                    f"ingest {feed}: landed = read = loaded + quarantined, raw partition = loaded",
                    ok,
                    f"landed {landed}, read {read}, loaded {loaded}, quarantined {quarantined}, raw {raw}",
                )
            )
        for table in PUBLISHED_TABLES:
            part = verify_partition(settings, table, ds)
            candidates = con.execute(
                f"select count(*) from marts.{table} where ds = cast($ds as date)", {"ds": ds}
            ).fetchone()[0]
            ok = part.ok and part.rows == candidates and candidates > 0
            detail = f"published {part.rows}, candidates {candidates}" + (
                "" if part.ok else f"; {'; '.join(part.problems)}"
            )
            checks.append(Check(f"publish {table}: complete, sha256, rows = candidates > 0", ok, detail))
        [(shops, scored)] = con.execute(
            "select (select count(*) from intermediate.int_shop_window__w30 where cohort_orders > 0), "
            "(select count(*) from marts.shop_scores_daily where ds = cast($ds as date))",
            {"ds": ds},
        ).fetchall()
        checks.append(
            Check(
                "shop_scores_daily: one row per shop with a cohort order in W30",
                shops == scored,
                f"{shops} shops, {scored} rows",
            )
        )
        checks.extend(verify_aggregate_totals(con))
        pools = con.execute("select pool_id, daily_impressions from seeds.flow_pools").fetchall()
        parts = con.execute(
            "select pool_id, part_order, recipient_type, share, cap from seeds.flow_pool_parts "
            "order by pool_id, part_order"
        ).fetchall()
    checks.extend(verify_allocation(settings, ds, dict(pools), parts))
    return checks


def verify_aggregate_totals(con) -> list[Check]:
    """Each daily aggregate's total of each measure = the total over fct_order_contributions' rows.

    The aggregates are incremental (only the cells a day touched are re-summed); a cell summed wrong or
    lost changes a total. One scan of fct_order_contributions gives every reference total.
    """
    expected_sql = ", ".join(
        f"sum({m}) filter (where {where})"
        for _, where, measures in ORDER_AGGREGATES.values()
        for m in measures
    )
    expected = iter(con.execute(f"select {expected_sql} from core.fct_order_contributions").fetchone())
    checks = []
    for table, (_, _, measures) in ORDER_AGGREGATES.items():
        got = con.execute(f"select {', '.join(f'sum({m})' for m in measures)} from {table}").fetchone()
        want = [next(expected) for _ in measures]
        wrong = [
            f"{m} {g} ≠ {w}" for m, g, w in zip(measures, got, want, strict=True) if (g or 0) != (w or 0)
        ]
        checks.append(
            Check(
                f"{table}: Σ of each measure = Σ over fct_order_contributions",
                not wrong and bool(want[0]),
                "; ".join(wrong) or f"{len(measures)} measures, Σ {measures[0]} {want[0]}",
            )
        )
    return checks


def verify_allocation(
    settings: Settings, ds: str, budgets: dict[str, int], parts: list[tuple]
) -> list[Check]:
    """§6 on the published Parquet: Σ impressions per pool = budget, a reserve row, nobody above its cap."""
    from decimal import Decimal

    import duckdb

    from trust_dw.publish import PART_FILE, partition_dir

    path = partition_dir(settings, "flow_allocation_daily", ds) / PART_FILE
    con = duckdb.connect()
    try:
        rows = con.execute(
            "select pool_id, recipient_type, sum(impressions)::hugeint, count(*), max(impressions) "
            f"from read_parquet('{path}') group by all"
        ).fetchall()
    finally:
        con.close()
    got: dict[str, dict[str, tuple[int, int, int]]] = {}
    for pool, kind, total, n, top in rows:
        got.setdefault(pool, {})[kind] = (int(total), int(n), int(top))
    checks = []
    for pool, budget in sorted(budgets.items()):
        kinds = got.get(pool, {})
        total = sum(t for t, _, _ in kinds.values())
        checks.append(
            Check(
                f"flow {pool}: Σ impressions (reserve included) = budget, reserve row present",
                total == int(budget) and kinds.get("reserve", (0, 0, 0))[1] == 1,
                f"Σ {total}, budget {budget}, reserve rows {kinds.get('reserve', (0, 0, 0))[1]}",
            )
        )
        pool_parts = [p for p in parts if p[0] == pool]
        left = int(budget)
        for i, (_, _, kind, share, cap) in enumerate(pool_parts):
            part_budget = left if i == len(pool_parts) - 1 else int(Decimal(str(share)) * int(budget))
            left -= part_budget
            limit = int(Decimal(str(cap)) * part_budget)
            top = kinds.get(kind, (0, 0, 0))[2]
            checks.append(
                Check(
                    f"flow {pool}/{kind}: no recipient above floor(cap × part budget)",
                    top <= limit,
                    f"max {top}, cap {limit}, {kinds.get(kind, (0, 0, 0))[1]} recipients",
                )
            )
    return checks
