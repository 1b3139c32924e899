"""End-to-end test of the dbt warehouse layer: real generator, real ingest, real dbt, real DuckDB.

Three tiny generated days with duplicate, late and orphan CDC rows are ingested and built one ds at a
time (the ``warehouse`` selector: staging, snapshots, core, contract windows). Then ds 2 is rebuilt
after ds 3 (a backfill while fct_orders already holds later outcomes) and ds 3 is rebuilt again.

Everything runs once in a module-scoped fixture that records what it saw; the tests assert on those
records. The references are plain SQL over the raw tables and fct_orders, written independently of the
dbt models (no contributions, no aggregates).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import pytest
from trust_dw.bench.verify import ORDER_AGGREGATES
from trust_dw.config import Settings
from trust_dw.dbt_runner import build
from trust_dw.generate import generate
from trust_dw.ingest import ingest_ds
from trust_dw.warehouse import connect

pytestmark = pytest.mark.e2e

DAYS = ["2026-01-01", "2026-01-02", "2026-01-03"]
SEED = 42  # with this seed, day 3 carries late (older) CDC rows
ORDER_COLUMNS = (
    "order_id, updated_at, shop_id, product_id, creator_id, buyer_id, channel, is_fan_order, quantity, "
    "unit_price, pay_amount, paid_at, cancelled_at, shipped_at, collected_at, delivered_at, "
    "refund_requested_at, refund_type, refund_reason, refund_completed_at, dispute_opened_at, reviewed_at, "
    "review_rating"
)

CONTENT_COLUMNS = (
    "metric_date, content_id, content_type, creator_id, impressions, opens, plays, completions, likes, "
    "comments, shares, watch_seconds, live_minutes, attributed_orders, attributed_gmv"
)
VIOLATION_COLUMNS = "violation_id, ruled_at, subject_type, subject_id, violation_type, description"

# The latest CDC state of every order landed up to ds, straight from raw.orders.
LATEST_STATE_SQL = f"""
select {ORDER_COLUMNS}
from (
    select *, row_number() over (
        partition by order_id order by updated_at desc, _ds desc, _source_file desc, _source_line desc
    ) as rn
    from raw.orders
    where _ds <= cast(? as date)
)
where rn = 1
"""


def _bd(ts: str) -> str:
    """Business date of a timestamp expression."""
    return f"cast((({ts}) at time zone 'Asia/Shanghai') as date)"


def _cohort_sql(ds: str) -> str:
    """fct_orders rows in C(W30) as of ds, keys mapped to the unknown member via the as-of-ds masters."""
    e = f"date '{ds}'"
    return f"""
    select
        coalesce(s.shop_id, '-1') as w_shop_id,
        coalesce(p.product_id, '-1') as w_product_id,
        o.*
    from core.fct_orders as o
    left join intermediate.int_shops__as_of_ds as s on o.shop_id = s.shop_id
    left join intermediate.int_products__as_of_ds as p on o.product_id = p.product_id
    where {_bd("o.paid_at")} between {e} - 29 and {e}
      and not coalesce({_bd("o.cancelled_at")} <= {e} and coalesce({_bd("o.shipped_at")} > {e}, true), false)
    """


def shop_window_reference(ds: str) -> str:
    e = f"date '{ds}'"
    due = "o.paid_at + interval 48 hour"
    sla = (
        "case when o.refund_type = 'return_refund' then 48 "
        "when o.shipped_at <= o.refund_requested_at then 36 else 24 end"
    )
    return f"""
    with o as ({_cohort_sql(ds)}),
    buyers as (
        select w_shop_id, buyer_id, count(*) as n from o group by all
    )
    select
        w_shop_id as shop_id,
        count(*) as cohort_orders,
        sum(pay_amount) as gmv,
        count(*) filter (where {_bd("delivered_at")} <= {e}) as delivered_orders,
        count(*) filter (where refund_reason = 'quality' and {_bd("refund_requested_at")} <= {e})
            as quality_refund_orders,
        count(*) filter (where {_bd("reviewed_at")} <= {e}) as reviews,
        count(*) filter (where {_bd("reviewed_at")} <= {e} and review_rating <= 2) as negative_reviews,
        count(*) filter (where {_bd(due)} <= {e}) as collect_due_orders,
        count(*) filter (where {_bd(due)} <= {e} and collected_at <= {due}) as collected_48h_orders,
        round(coalesce(sum(epoch(delivered_at) - epoch(paid_at))
            filter (where {_bd("delivered_at")} <= {e}), 0) / 3600, 6) as delivery_hours_sum,
        count(*) filter (where {_bd("refund_completed_at")} <= {e}) as refunds_completed,
        count(*) filter (where {_bd("refund_completed_at")} <= {e}
            and refund_completed_at <= refund_requested_at + to_hours({sla})) as refunds_within_sla,
        count(*) filter (where {_bd("dispute_opened_at")} <= {e}) as dispute_orders,
        coalesce(sum(pay_amount) filter (where channel = 'live_self'), 0) as gmv_live_self,
        coalesce(sum(pay_amount) filter (where channel like '%distribution'), 0) as gmv_distribution,
        coalesce(sum(pay_amount) filter (where channel = 'shelf'), 0) as gmv_shelf,
        coalesce(sum(pay_amount) filter (where is_fan_order), 0) as gmv_fan,
        (select count(*) from buyers b where b.w_shop_id = o.w_shop_id) as distinct_buyers,
        (select count(*) from buyers b where b.w_shop_id = o.w_shop_id and b.n >= 2) as repeat_buyers
    from o
    group by w_shop_id
    """


SHOP_WINDOW_COLUMNS = (
    "shop_id, cohort_orders, gmv, delivered_orders, quality_refund_orders, reviews, negative_reviews, "
    "collect_due_orders, collected_48h_orders, round(delivery_hours_sum, 6) as delivery_hours_sum, "
    "refunds_completed, refunds_within_sla, dispute_orders, gmv_live_self, gmv_distribution, gmv_shelf, "
    "gmv_fan, distinct_buyers, repeat_buyers"
)


def product_window_reference(ds: str) -> str:
    return f"""
    with o as ({_cohort_sql(ds)}),
    daily as (
        select w_product_id, {_bd("paid_at")} as d, sum(pay_amount) / sum(quantity) as x
        from o group by all
    ),
    cv as (
        select w_product_id, count(*) as sale_days,
            round(coalesce(stddev_pop(x) / nullif(avg(x), 0), 0), 9) as price_cv
        from daily group by all
    ),
    buyers as (select w_product_id, buyer_id, count(*) as n from o group by all)
    select
        o.w_product_id as product_id,
        count(*) as cohort_orders,
        sum(pay_amount) as gmv,
        sum(quantity) as quantity,
        coalesce(sum(pay_amount) filter (where channel like '%distribution'), 0) as distribution_gmv,
        count(distinct creator_id) filter (where channel like '%distribution') as active_distributors,
        (select count(*) from buyers b where b.w_product_id = o.w_product_id) as distinct_buyers,
        (select count(*) from buyers b where b.w_product_id = o.w_product_id and b.n >= 2) as repeat_buyers,
        any_value(cv.sale_days) as sale_days,
        any_value(cv.price_cv) as price_cv
    from o join cv using (w_product_id)
    group by o.w_product_id
    """


PRODUCT_WINDOW_COLUMNS = (
    "product_id, cohort_orders, gmv, quantity, distribution_gmv, active_distributors, distinct_buyers, "
    "repeat_buyers, sale_days, round(price_cv, 9) as price_cv"
)

# Every table the warehouse writes; a rerun of a ds must leave each of them row-for-row identical.
WAREHOUSE_TABLES = (
    "core.fct_orders",
    "core.fct_order_contributions",
    "core.agg_shop_daily",
    "core.agg_creator_daily",
    "core.agg_product_daily",
    "core.agg_shop_buyer_daily",
    "core.agg_creator_buyer_daily",
    "core.agg_product_buyer_daily",
    "core.agg_distribution_daily",
    "core.fct_content_daily",
    "core.fct_violations",
    "core.dim_shops",
    "core.dim_products",
    "core.dim_creators",
    "core.dim_providers",
    "core.dim_provider_shop_links",
    "core.orphan_keys",
    "intermediate.int_shop_window__w30",
    "intermediate.int_creator_window__w30",
    "intermediate.int_product_window__w30",
    "intermediate.int_shop_gmv__prev30",
    "intermediate.int_flow_window",
    "intermediate.int_creator_shop_distribution__w28",
    "intermediate.int_provider_served_shops",
)
SNAPSHOT_TABLES = (
    "snapshots.snap_shops",
    "snapshots.snap_products",
    "snapshots.snap_creators",
    "snapshots.snap_providers",
    "snapshots.snap_provider_shop_links",
)


def _aggregate_differences(con) -> dict[str, tuple[int, int, int]]:
    """Per aggregate (trust_dw.bench.verify.ORDER_AGGREGATES, one group-by over every contribution row):
    (cells only in the table, cells only in the full re-sum, non-zero cells), over the cells with a
    non-zero measure (an emptied cell stays as zeros)."""
    out = {}
    for table, (keys, where, measures) in ORDER_AGGREGATES.items():
        names = [k.split(" as ")[-1] for k in keys] + ["paid_date", "event_date"]
        sums = ", ".join(f"sum({m}) as {m}" for m in measures)
        nonzero = " or ".join(f"{m} != 0" for m in measures)
        columns = ", ".join(names + list(measures))
        model = f"select {columns} from {table} where {nonzero}"
        reference = (
            f"select {columns} from (select {', '.join(keys)}, paid_date, event_date, {sums}"
            f" from core.fct_order_contributions where {where} group by all) where {nonzero}"
        )
        out[table] = con.execute(
            f"select (select count(*) from ({model} except all {reference})),"
            f" (select count(*) from ({reference} except all {model})), (select count(*) from ({model}))"
        ).fetchone()
    return out


def _rows(con, sql: str, params: list | None = None) -> list[tuple]:
    return sorted(con.execute(sql, params or []).fetchall(), key=repr)


def _table_rows(con, tables: tuple[str, ...]) -> dict[str, list[tuple]]:
    return {t: _rows(con, f"select * from {t}") for t in tables}


@dataclass
class Run:
    """What the module fixture observed."""

    settings: Settings
    manifests: dict[str, dict] = field(default_factory=dict)
    fct_vs_raw: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # ds -> (extra, missing, n)
    shop_window: dict[str, tuple[list, list]] = field(default_factory=dict)  # label -> (reference, model)
    product_window: dict[str, tuple[list, list]] = field(default_factory=dict)
    aggregates: dict[str, dict[str, tuple[int, int, int]]] = field(default_factory=dict)  # label -> table
    orphan_keys: dict[str, dict[str, int]] = field(default_factory=dict)
    tables_first: dict[str, list] = field(default_factory=dict)
    tables_after_reruns: dict[str, list] = field(default_factory=dict)
    snapshots_before_backfill: dict[str, list] = field(default_factory=dict)
    snapshots_after_backfill: dict[str, list] = field(default_factory=dict)
    fct_before_backfill: list = field(default_factory=list)
    fct_after_backfill: list = field(default_factory=list)
    unit_test_statuses: dict[str, str] = field(default_factory=dict)
    redelivered_gone: list[str] = field(default_factory=list)
    redelivered_fallback: list[str] = field(default_factory=list)
    after_redelivery: dict[str, object] = field(default_factory=dict)
    full_parse_reasons: list[tuple[str, str | None]] = field(default_factory=list)  # (ds, why) per build


def _observe_windows_and_aggregates(run: Run, con, ds: str, label: str) -> None:
    run.shop_window[label] = (
        _rows(con, f"select {SHOP_WINDOW_COLUMNS} from ({shop_window_reference(ds)})"),
        _rows(con, f"select {SHOP_WINDOW_COLUMNS} from intermediate.int_shop_window__w30"),
    )
    run.product_window[label] = (
        _rows(con, f"select {PRODUCT_WINDOW_COLUMNS} from ({product_window_reference(ds)})"),
        _rows(con, f"select {PRODUCT_WINDOW_COLUMNS} from intermediate.int_product_window__w30"),
    )
    run.aggregates[label] = _aggregate_differences(con)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    home = Path(tmp_path_factory.mktemp("warehouse")).resolve()
    settings = replace(Settings.from_env(), home=home, memory_limit="1GB", threads=2)
    settings.ensure_dirs()
    generate(settings, "tiny", DAYS[0], len(DAYS), SEED, faults="duplicates,late,orphans")
    result = Run(settings)
    for ds in DAYS:
        result.manifests[ds] = json.loads((settings.landing_dir / "_faults" / f"ds={ds}.json").read_text())
        ingest_ds(settings, ds)
        first_builds = build(settings, ds, selector="warehouse")
        result.full_parse_reasons.append((ds, first_builds.full_parse_reason))
        with connect(settings, read_only=True) as con:
            latest = f"({LATEST_STATE_SQL})"
            fct = f"(select {ORDER_COLUMNS} from core.fct_orders)"
            extra = con.execute(f"select count(*) from ({fct} except {latest})", [ds]).fetchone()[0]
            missing = con.execute(f"select count(*) from ({latest} except {fct})", [ds]).fetchone()[0]
            n = con.execute("select count(*) from core.fct_orders").fetchone()[0]
            result.fct_vs_raw[ds] = (extra, missing, n)
            result.orphan_keys[ds] = dict(
                con.execute(
                    "select key_column, orphan_rows from core.orphan_keys where feed = 'orders' and ds = ?",
                    [ds],
                ).fetchall()
            )
    last, backfill = DAYS[-1], DAYS[-2]
    with connect(settings, read_only=True) as con:
        _observe_windows_and_aggregates(result, con, last, "first")
        result.tables_first = _table_rows(con, WAREHOUSE_TABLES)
        result.snapshots_before_backfill = _table_rows(con, SNAPSHOT_TABLES)
        result.fct_before_backfill = result.tables_first["core.fct_orders"]

    # fct_orders already holds ds 3's outcomes; the warehouse exists now, so its unit tests can run too
    backfill_run = build(settings, backfill, selector="warehouse", with_unit_tests=True)
    result.full_parse_reasons.append((backfill, backfill_run.full_parse_reason))
    result.unit_test_statuses = {
        node: status for node, status in backfill_run.node_statuses.items() if node.startswith("unit_test.")
    }
    with connect(settings, read_only=True) as con:
        _observe_windows_and_aggregates(result, con, backfill, "backfill")
        result.snapshots_after_backfill = _table_rows(con, SNAPSHOT_TABLES)
        result.fct_after_backfill = _rows(con, "select * from core.fct_orders")

    rerun = build(settings, last, selector="warehouse")  # rerun of the newest ds
    result.full_parse_reasons.append((last, rerun.full_parse_reason))
    with connect(settings, read_only=True) as con:
        _observe_windows_and_aggregates(result, con, last, "rerun")
        result.tables_after_reruns = _table_rows(con, WAREHOUSE_TABLES)

    _redeliver_without_some_orders(result, backfill)
    return result


def _redeliver_without_some_orders(run: Run, ds: str) -> None:
    """ds's orders drop is delivered again without every row of 10 orders: 5 that only that drop had
    (they must vanish) and 5 whose current version came from it (they fall back to an older row)."""
    settings = run.settings
    with connect(settings, read_only=True) as con:
        run.redelivered_gone = [
            r[0]
            for r in con.execute(
                "select order_id from raw.orders group by order_id"
                " having bool_and(_ds = cast(? as date)) order by order_id limit 5",
                [ds],
            ).fetchall()
        ]
        run.redelivered_fallback = [
            r[0]
            for r in con.execute(
                "select order_id from core.fct_orders where last_change_ds = cast(? as date)"
                " and order_id in (select order_id from raw.orders where _ds < cast(? as date))"
                " order by order_id limit 5",
                [ds, ds],
            ).fetchall()
        ]
    dropped = set(run.redelivered_gone) | set(run.redelivered_fallback)
    _rewrite_drop(settings, "orders", ds, lambda i, row: row[0] not in dropped)
    _rewrite_drop(settings, "content_metrics", ds, lambda i, row: i >= 5)  # the first 5 content rows go
    _rewrite_drop(settings, "violations", ds, lambda i, row: i >= 1)  # and the first ruling
    ingest_ds(settings, ds, feeds=["orders", "content_metrics", "violations"])
    build(settings, ds, selector="warehouse")
    with connect(settings, read_only=True) as con:
        latest = f"({LATEST_STATE_SQL})"
        fct = f"(select {ORDER_COLUMNS} from core.fct_orders)"
        run.after_redelivery = {
            "extra": con.execute(f"select count(*) from ({fct} except {latest})", [DAYS[-1]]).fetchone()[0],
            "missing": con.execute(f"select count(*) from ({latest} except {fct})", [DAYS[-1]]).fetchone()[0],
            "gone_in_fct": con.execute(
                "select count(*) from core.fct_orders where order_id in (select unnest(?::varchar[]))",
                [run.redelivered_gone],
            ).fetchone()[0],
            "gone_in_contributions": con.execute(
                "select count(*) from core.fct_order_contributions"
                " where order_id in (select unnest(?::varchar[]))",
                [run.redelivered_gone],
            ).fetchone()[0],
            "fallback_ds": {
                r[0]
                for r in con.execute(
                    "select last_change_ds from core.fct_orders"
                    " where order_id in (select unnest(?::varchar[]))",
                    [run.redelivered_fallback],
                ).fetchall()
            },
        }
        for table, source, key, columns in (
            ("core.fct_content_daily", "raw.content_metrics", "metric_date, content_id", CONTENT_COLUMNS),
            ("core.fct_violations", "raw.violations", "violation_id", VIOLATION_COLUMNS),
        ):
            latest = (
                f"select {columns} from (select *, row_number() over (partition by {key} order by _ds desc,"
                f" _source_file desc, _source_line desc) as rn from {source}) where rn = 1"
            )
            fct = f"select {columns} from {table}"
            run.after_redelivery[table] = con.execute(
                f"select (select count(*) from ({fct} except {latest})),"
                f" (select count(*) from ({latest} except {fct})), (select count(*) from {table})"
            ).fetchone()
        _observe_windows_and_aggregates(run, con, ds, "redelivery")


def _rewrite_drop(settings: Settings, feed: str, ds: str, keep) -> None:
    """Deliver the feed's ds drop again with only the data rows keep(index, row) accepts."""
    (part,) = (settings.landing_dir / feed / f"ds={ds}").glob("*.csv")
    with part.open(newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f))
    with part.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows([header] + [r for i, r in enumerate(rows) if keep(i, r)])


def test_the_generated_days_carry_the_faults_under_test(run: Run) -> None:
    kinds = ("duplicates", "late", "orphans")
    counts = {k: sum(m["counts"][k] for m in run.manifests.values()) for k in kinds}
    assert counts["duplicates"] > 0 and counts["late"] > 0 and counts["orphans"] > 0, counts


def test_fct_orders_is_the_latest_cdc_state_of_every_order_after_every_day(run: Run) -> None:
    for ds, (extra, missing, n) in run.fct_vs_raw.items():
        assert (extra, missing) == (0, 0), f"ds={ds}: fct_orders differs from the raw CDC state"
        assert n > 1000, f"ds={ds}: only {n} orders"
    # orders accumulate: each day adds the day's new orders
    sizes = [run.fct_vs_raw[ds][2] for ds in DAYS]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_orphan_order_keys_are_counted_per_ds(run: Run) -> None:
    for ds, manifest in run.manifests.items():
        kinds = manifest["orphan_counts"].get("orders", {})
        expected = {
            "shop_id": kinds.get("unknown_shop", 0),
            "product_id": kinds.get("unknown_shop", 0) + kinds.get("unknown_product", 0),
            "creator_id": kinds.get("unknown_creator", 0),
        }
        assert run.orphan_keys[ds] == expected, ds


@pytest.mark.parametrize("label", ["first", "backfill", "rerun", "redelivery"])
def test_shop_window_equals_the_cohort_computed_directly_from_fct_orders(run: Run, label: str) -> None:
    reference, model = run.shop_window[label]
    assert len(model) > 50
    assert model == reference
    # orphan shops' orders are kept under the unknown member
    assert any(row[0] == "-1" for row in model)


@pytest.mark.parametrize("label", ["first", "backfill", "rerun", "redelivery"])
def test_product_window_equals_the_cohort_computed_directly_from_fct_orders(run: Run, label: str) -> None:
    reference, model = run.product_window[label]
    assert len(model) > 100
    assert [row[:-1] for row in model] == [row[:-1] for row in reference]
    # price_cv: the model sums daily prices rounded to 6 decimals exactly; the reference uses doubles
    assert [row[-1] for row in model] == pytest.approx([row[-1] for row in reference], abs=1e-6)
    assert any(row[-1] > 0 for row in model), "no product with a varying daily price: price_cv untested"


@pytest.mark.parametrize("label", ["first", "backfill", "rerun", "redelivery"])
def test_every_daily_aggregate_equals_a_full_re_sum_of_the_order_contributions(run: Run, label: str) -> None:
    for table, (extra, missing, cells) in run.aggregates[label].items():
        assert (extra, missing) == (0, 0), f"{label}: {table} differs from a full re-sum"
        assert cells > 100, f"{label}: {table} has only {cells} non-zero cells"


def test_backfill_of_an_older_ds_keeps_fct_orders_and_the_snapshot_history(run: Run) -> None:
    assert run.fct_after_backfill == run.fct_before_backfill
    for table, rows in run.snapshots_before_backfill.items():
        assert run.snapshots_after_backfill[table] == rows, table


def test_rerunning_the_newest_ds_after_a_backfill_changes_nothing(run: Run) -> None:
    for table, rows in run.tables_first.items():
        assert run.tables_after_reruns[table] == rows, table


def test_the_dbt_unit_tests_of_the_warehouse_pass(run: Run) -> None:
    assert len(run.unit_test_statuses) == 5, run.unit_test_statuses
    assert set(run.unit_test_statuses.values()) == {"pass"}


def test_dbt_parses_the_project_once_and_reuses_the_parse_for_every_later_ds(run: Run) -> None:
    """The ds reaches dbt as TRUST_DW_DS, read when a node executes, and the profile holds no figure
    that moves between runs: a new ds and a rerun reuse the saved parse (a changed --vars, or a profile
    value computed from the free disk, made dbt re-parse the project every run). The build with the
    unit tests parses in full on purpose (seed fixtures), and the build after it reuses the parse."""
    assert run.full_parse_reasons == [
        (DAYS[0], "saved manifest not found. Starting full parse."),
        *[(ds, None) for ds in DAYS[1:]],
        (DAYS[-2], "--no-partial-parse"),
        (DAYS[-1], None),
    ]


def test_dbt_run_by_hand_without_a_ds_says_how_to_give_one(tmp_path: Path, monkeypatch) -> None:
    """Someone running dbt directly (not through trust-dw) without TRUST_DW_DS or --vars gets an error
    that says how to set the business date, not a run on a placeholder date."""
    from dbt.cli.main import dbtRunner
    from trust_dw import dbt_runner

    settings = Settings(home=tmp_path / "dw")
    settings.ensure_dirs()
    for name, value in dbt_runner.dbt_env(settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TRUST_DW_DS", raising=False)
    project = str(settings.dbt_project_dir)
    args = ["compile", "--select", "int_shops__as_of_ds", "--project-dir", project, "--profiles-dir", project]
    try:
        result = dbtRunner().invoke(args)
    finally:
        dbt_runner._release_duckdb()
    assert not result.success
    message = str(result.exception or [r.message for r in result.result])
    assert "the business date ds is not set (got '')" in message, message
    assert "set TRUST_DW_DS=YYYY-MM-DD or pass --vars '{ds: YYYY-MM-DD}'" in message, message


def test_a_failed_build_names_the_failed_node_and_its_error(run: Run) -> None:
    """fct_order_contributions refuses to take new rows without the aggregates that compare with it."""
    from trust_dw.dbt_runner import DbtError

    with pytest.raises(DbtError) as caught:
        build(run.settings, DAYS[-1], select="fct_order_contributions")
    message = str(caught.value)
    assert caught.value.failed_nodes == ["model.trust_dw.fct_order_contributions"]
    assert f"ds={DAYS[-1]}" in message and "model.trust_dw.fct_order_contributions: error" in message
    assert "must be built together with agg_shop_daily" in message


def test_ds_must_be_a_date(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "dw")
    with pytest.raises(ValueError, match="ds must be a date YYYY-MM-DD, got '2026-13-01'"):
        build(settings, "2026-13-01")


def test_a_redelivered_partition_replaces_what_the_earlier_drop_brought(run: Run) -> None:
    """Orders only the earlier drop had vanish; orders whose version came from it fall back."""
    assert len(run.redelivered_gone) == 5 and len(run.redelivered_fallback) == 5
    result = run.after_redelivery
    assert (result["extra"], result["missing"]) == (0, 0), "fct_orders differs from the raw CDC state"
    assert result["gone_in_fct"] == 0 and result["gone_in_contributions"] == 0
    assert result["fallback_ds"] == {date.fromisoformat(DAYS[0])}
    # content metrics and rulings follow their re-delivered partitions too (5 content rows, 1 ruling gone)
    for table in ("core.fct_content_daily", "core.fct_violations"):
        extra, missing, rows = result[table]
        assert (extra, missing) == (0, 0), table
    assert result["core.fct_content_daily"][2] == 3 * 1500 - 5
