"""The score marts (DESIGN §5, §7) with real dbt and real DuckDB, on hand-made rows of the warehouse contract.

One scratch warehouse per module: the contract relations the score models read (docs/ARCHITECTURE.md) are
created and filled by hand, then only the score seeds and models are built. The formulas themselves are
pinned by the dbt unit tests next to the models (run here too); these tests check the wiring: the §5.2
worked example through the real models and seeds, the history by ds, that a seed change alone changes the
scores, and the `summary` / `explain` commands.
"""

from __future__ import annotations

import dataclasses
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from trust_dw.config import Settings
from typer.testing import CliRunner

DS = "2026-01-31"
DS_NEXT = "2026-02-01"
SCORES = "path:seeds/scoring path:models/intermediate/scores path:models/marts/scores"

# The contract relations the score models read, with the warehouse layer's column types.
_SHOP_WINDOW_COLUMNS = (
    "ds date, shop_id varchar, cohort_orders bigint, gmv decimal(18,2), delivered_orders bigint,"
    " quality_refund_orders bigint, reviews bigint, negative_reviews bigint, collect_due_orders bigint,"
    " collected_48h_orders bigint, delivery_hours_sum double, refunds_completed bigint,"
    " refunds_within_sla bigint, dispute_orders bigint, gmv_live_self decimal(18,2),"
    " gmv_distribution decimal(18,2), gmv_shelf decimal(18,2), gmv_fan decimal(18,2),"
    " distinct_buyers bigint, repeat_buyers bigint"
)


def _shop_window(ds: str) -> list[tuple]:
    return [
        # the §5.2 worked example: 11/400 quality refunds, 2/100 negative reviews, 97/100 collected in 48 h,
        # 33600 h / 400 deliveries = 84 h, no completed refund, 1/1000 disputes (+ one bad_service ruling)
        (ds, "S1", 1000, "100000.00", 400, 11, 100, 2, 100, 97, 33600.0, 0, 0, 1,
         "20000.00", "50000.00", "30000.00", "10000.00", 800, 200),
        # provisional: 10 cohort orders
        (ds, "S2", 10, "500.00", 10, 0, 5, 0, 10, 10, 480.0, 0, 0, 0, "0", "0", "500.00", "0", 10, 0),
    ]  # fmt: skip


UPSTREAM: dict[str, tuple[str, list[tuple]]] = {
    "intermediate.int_shop_window__w30": (_SHOP_WINDOW_COLUMNS, _shop_window(DS) + _shop_window(DS_NEXT)),
    "intermediate.int_creator_window__w30": (
        "ds date, creator_id varchar, content_items bigint, impressions bigint, opens bigint, plays bigint,"
        " completions bigint, interactions bigint, watch_seconds bigint, cohort_orders bigint,"
        " gmv decimal(18,2), delivered_orders bigint, quality_refund_orders bigint, reviews bigint,"
        " negative_reviews bigint, dispute_orders bigint, distinct_buyers bigint, repeat_buyers bigint",
        [(DS, "C1", 3, 1000, 55, 500, 100, 20, 15000, 40, "4000.00", 40, 0, 10, 0, 0, 30, 10)],
    ),
    "intermediate.int_product_window__w30": (
        "ds date, product_id varchar, shop_id varchar, category varchar, cohort_orders bigint,"
        " gmv decimal(18,2), quantity bigint, distribution_gmv decimal(18,2), active_distributors bigint,"
        " delivered_orders bigint, quality_refund_orders bigint, reviews bigint, negative_reviews bigint,"
        " dispute_orders bigint, distinct_buyers bigint, repeat_buyers bigint, sale_days bigint,"
        " price_cv double",
        [
            (
                DS,
                "P1",
                "S1",
                "beauty",
                1000,
                "100000.00",
                1000,
                "60000.00",
                20,
                400,
                2,
                100,
                2,
                1,
                800,
                240,
                30,
                0.0,
            )
        ],
    ),
    "intermediate.int_shop_gmv__prev30": (
        "ds date, shop_id varchar, gmv_prev30 decimal(18,2)",
        [(DS, "S1", "80000.00")],
    ),
    "intermediate.int_provider_served_shops": (
        "ds date, provider_id varchar, shop_id varchar",
        [(DS, "V1", "S1"), (DS, "V1", "S2")],
    ),
    "core.fct_violations": (
        "violation_id varchar, ruled_at timestamptz, ruled_date date, subject_type varchar,"
        " subject_id varchar, violation_type varchar",
        [("R1", "2026-01-20 10:00:00+08", "2026-01-20", "shop", "S1", "bad_service")],
    ),
    "intermediate.int_shops__as_of_ds": (
        "shop_id varchar, brand_level varchar, opened_at date, status varchar",
        [("S1", "flagship", "2024-01-01", "active"), ("S2", "white_label", "2026-01-20", "active")],
    ),
    "intermediate.int_products__as_of_ds": ("product_id varchar, status varchar", [("P1", "on_sale")]),
    "intermediate.int_providers__as_of_ds": (
        "provider_id varchar, provider_type varchar, capabilities varchar, status varchar",
        [("V1", "core_base", "live_ops;fulfilment", "active"), ("V2", "local_quality", "live_ops", "exited")],
    ),
}


def _home(tmp_path_factory: pytest.TempPathFactory, name: str, repo: Path | None = None) -> Settings:
    base = Settings.from_env()
    settings = dataclasses.replace(
        base, home=tmp_path_factory.mktemp(name) / "dw", repo_root=repo or base.repo_root, threads=1
    )
    settings.ensure_dirs()
    return settings


def _fill_upstream(settings: Settings) -> None:
    from trust_dw.warehouse import connect

    with connect(settings) as con:
        for relation, (columns, rows) in UPSTREAM.items():
            con.execute(f"create schema if not exists {relation.split('.')[0]}")
            con.execute(f"create or replace table {relation} ({columns})")
            con.executemany(f"insert into {relation} values ({', '.join('?' * len(rows[0]))})", rows)


def _build_scores(settings: Settings, ds: str) -> None:
    """Seeds + score models + their data tests for ds (the unit tests run in their own test below)."""
    from trust_dw.dbt_runner import run_dbt

    result = run_dbt(settings, ["build", "--select", SCORES, "--exclude-resource-type", "unit_test"], ds)
    assert result.success, result.node_messages
    assert not result.failed_nodes


def _query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    # A plain connection: it shares the database instance an in-process dbt run may still hold open.
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def scores_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = _home(tmp_path_factory, "scores")
    _fill_upstream(settings)
    _build_scores(settings, DS)
    return settings


def test_dbt_unit_tests_of_the_score_models_pass(scores_warehouse: Settings) -> None:
    from trust_dw.dbt_runner import run_dbt

    result = run_dbt(scores_warehouse, ["test", "--select", "test_type:unit,tag:scores"], DS)
    units = {n: s for n, s in result.node_statuses.items() if n.startswith("unit_test.")}
    assert result.success, {n: result.node_messages.get(n) for n in result.failed_nodes}
    assert len(units) >= 13
    assert set(units.values()) == {"pass"}
    assert "unit_test.trust_dw.shop_scores_daily.shop_scores_worked_example" in units


def test_the_worked_example_through_the_real_models_and_seeds(scores_warehouse: Settings) -> None:
    rows = _query(
        scores_warehouse,
        """
        select product_experience_score, logistics_score, after_sales_score, deductions, experience_score,
               stars, grade, score_status, rights, settlement_days, quality_refund_rate, refund_sla_rate,
               refund_sla_rate_score, growth_stage, self_broadcast_share, fan_share, repeat_buyer_rate
        from marts.shop_scores_daily where ds = ? and shop_id = 'S1'
        """,
        [DS],
    )
    assert rows == [
        (
            Decimal("70.00"), Decimal("75.00"), Decimal("100.00"), Decimal("3.00"), Decimal("77.50"),
            Decimal("4.55"), "good", "scored", "return_shipping_subsidy;fake_one_pay_ten", 15,
            0.0275, None, None, "climbing", 0.2, 0.1, 0.25,
        )
    ]  # fmt: skip


def test_provisional_shop_and_the_other_marts(scores_warehouse: Settings) -> None:
    s2 = _query(
        scores_warehouse,
        "select score_status, stars, effective_score, grade, growth_stage from marts.shop_scores_daily"
        " where ds = ? and shop_id = 'S2'",
        [DS],
    )
    assert s2 == [("provisional", None, Decimal("70.00"), "fair", "new_store")]
    # brand: flagship 100 and the shop's 77.50 → 88.75; price: index 1.0 (alone in its category) → 71.43,
    # cv 0 → 100; distribution, service 100; sales: log10(100000) → 66.67, repurchase 0.3 → 100 → 80;
    # 0.15 × 88.75 + 0.25 × 82.857 + 0.15 × 100 + 0.25 × 100 + 0.2 × 80 = 90.03
    # → L5 (quality refunds 0.005, 1000 orders)
    p1 = _query(
        scores_warehouse,
        "select brand_level_score, shop_experience_score, brand_score, price_index, price_index_score,"
        " price_score, sales_score, gmv_score, product_score, tier, is_selected_goods, gate_reason"
        " from marts.product_tiers_daily where ds = ? and product_id = 'P1'",
        [DS],
    )
    assert p1 == [
        (100.0, 77.5, Decimal("88.75"), 1.0, Decimal("71.43"), Decimal("82.86"), Decimal("80.00"),
         Decimal("66.67"), Decimal("90.03"), "L5", True, None)
    ]  # fmt: skip
    # the provider serves S1 (scored) and S2 (provisional: not in served_quality); exited V2 has no row;
    # growth 100500 / 80000 − 1 = 0.25625; a bad_service ruling does not deduct from providers
    v = _query(
        scores_warehouse,
        "select provider_id, served_shops, gmv_w30, annualized_gmv, served_quality, served_gmv_growth,"
        " capability_coverage, deductions, tier, action from marts.provider_tiers_daily where ds = ?",
        [DS],
    )
    assert v == [
        (
            "V1",
            2,
            Decimal("100500.00"),
            Decimal("1222750.00"),
            77.5,
            0.25625,
            0.4,
            Decimal("0.00"),
            "C",
            "keep",
        )
    ]
    c1 = _query(
        scores_warehouse,
        "select score_status, open_rate, open_rate_score from marts.creator_scores_daily where ds = ?",
        [DS],
    )
    assert c1 == [("scored", 0.055, Decimal("50.00"))]


def test_history_is_kept_by_ds_and_a_rerun_replaces_its_ds(scores_warehouse: Settings) -> None:
    from trust_dw.dbt_runner import run_dbt

    models = ["run", "--select", "path:models/intermediate/scores path:models/marts/scores"]
    assert run_dbt(scores_warehouse, models, DS_NEXT).success
    assert run_dbt(scores_warehouse, models, DS_NEXT).success
    counts = _query(
        scores_warehouse, "select ds::varchar, count(*) from marts.shop_scores_daily group by 1 order by 1"
    )
    assert counts == [(DS, 2), (DS_NEXT, 2)]
    # on DS_NEXT the R1 ruling is still in W30: same score
    assert _query(
        scores_warehouse,
        "select experience_score from marts.shop_scores_daily where ds = ? and shop_id = 'S1'",
        [DS_NEXT],
    ) == [(Decimal("77.50"),)]


def test_changing_a_seed_changes_the_scores(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Weights and points live in the seeds: edit the CSVs of a copy of the project, rerun, new scores."""
    base = Settings.from_env()
    repo = tmp_path_factory.mktemp("repo")
    shutil.copytree(
        base.dbt_project_dir,
        repo / "dbt_project",
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
    )
    seeds = repo / "dbt_project" / "seeds" / "scoring"
    anchors = (seeds / "score_indicator_anchors.csv").read_text()
    anchors = anchors.replace("shop,product_experience,0.40,", "shop,product_experience,0.50,")
    anchors = anchors.replace("shop,logistics,0.30,", "shop,logistics,0.20,")
    (seeds / "score_indicator_anchors.csv").write_text(anchors)
    points = (
        (seeds / "score_violation_points.csv").read_text().replace("shop,bad_service,3", "shop,bad_service,5")
    )
    (seeds / "score_violation_points.csv").write_text(points)

    settings = _home(tmp_path_factory, "reweighted", repo=repo)
    _fill_upstream(settings)
    _build_scores(settings, DS)
    # 0.5 × 70 + 0.2 × 75 + 0.3 × 100 − 5 = 75.00 (was 0.4 × 70 + 0.3 × 75 + 0.3 × 100 − 3 = 77.50)
    assert _query(
        settings,
        "select product_experience_score, logistics_score, deductions, experience_score, stars, grade"
        " from marts.shop_scores_daily where ds = ? and shop_id = 'S1'",
        [DS],
    ) == [(Decimal("70.00"), Decimal("75.00"), Decimal("5.00"), Decimal("75.00"), Decimal("4.50"), "good")]


def test_summary_and_explain(scores_warehouse: Settings) -> None:
    from trust_dw import scores_report

    summary = scores_report.summary(scores_warehouse, DS)
    grades = {row[0]: row[1:4] for row in summary.table("Shops per grade").rows}
    assert grades == {"excellent": [0, 0, 0], "good": [1, 0, 1], "fair": [0, 1, 1], "poor": [0, 0, 0]}
    stages = {row[0]: row[1] for row in summary.table("Merchant growth stages").rows}
    assert stages == {"new_store": 1, "climbing": 1, "industry_ka": 0, "ska": 0}
    assert [row[:3] for row in summary.table("Service providers").rows if row[4]] == [["C", 1, 0]]

    explained = scores_report.explain(scores_warehouse, "shop", "S1", DS)
    lines = {line.indicator: line for line in explained.indicators}
    assert explained.score == Decimal("77.50") and explained.base_score == Decimal("80.50")
    assert explained.deductions == Decimal("3.00")
    assert (
        lines["refund_sla_rate"].score is None and lines["refund_sla_rate"].effective_indicator_weight is None
    )
    assert lines["dispute_rate"].effective_indicator_weight == 1.0
    assert lines["quality_refund_rate"].value == 0.0275 and lines["quality_refund_rate"].score == 50.0
    assert round(sum(line.contribution or 0 for line in explained.indicators), 6) == 80.5
    assert [(r["violation_id"], r["points"]) for r in explained.rulings] == [("R1", 3.0)]

    with pytest.raises(scores_report.ScoresReportError, match="no shop 'nope'"):
        scores_report.explain(scores_warehouse, "shop", "nope", DS)
    with pytest.raises(scores_report.ScoresReportError, match="unknown kind"):
        scores_report.explain(scores_warehouse, "planet", "S1", DS)


def test_summary_and_explain_commands(scores_warehouse: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from trust_dw.cli import app

    monkeypatch.setenv("TRUST_DW_HOME", str(scores_warehouse.home))
    runner = CliRunner()
    out = runner.invoke(app, ["summary", "--ds", DS])
    assert out.exit_code == 0, out.output
    assert "Shops per grade" in out.output and "Products per tier" in out.output
    out = runner.invoke(app, ["explain", "shop", "S1", "--ds", DS])
    assert out.exit_code == 0, out.output
    assert "77.50" in out.output and "no evidence" in out.output and "R1" in out.output
    out = runner.invoke(app, ["summary", "--ds", "2020-01-01"])
    assert out.exit_code == 1 and "no score rows for ds=2020-01-01" in out.output
