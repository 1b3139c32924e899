"""The quality gate (DESIGN §8) on synthetic candidates: it passes on good data, and each blocking check
fails on a table broken in exactly one way, with the failure named in the error and in the Data Docs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from synthetic_candidates import build_warehouse, mutate
from trust_dw.config import Settings
from trust_dw.quality import (
    GateFailed,
    SuiteFileError,
    data_docs_index,
    load_suite_files,
    read_gate_result,
    validate,
)

DS = "2026-01-02"


@pytest.fixture(scope="module")
def gate_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with good candidates and a GX context warmed by one passing validation (copied per test)."""
    home = tmp_path_factory.mktemp("gate") / "dw"
    settings = Settings(home=home)
    settings.ensure_dirs()
    build_warehouse(settings)
    validate(settings, DS)
    return home


@pytest.fixture
def home(gate_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    target = tmp_path / "dw"
    shutil.copytree(gate_home, target)
    monkeypatch.setenv("TRUST_DW_HOME", str(target))
    return Settings.from_env()


def test_gate_passes_on_good_candidates_and_reruns(home: Settings) -> None:
    result = validate(home, DS)  # the second run of this ds in this GX context: suites already exist
    assert result.passed
    assert result.failed == [] and result.warnings == []
    assert len(result.checks) == sum(len(f.expectations) for s in load_suite_files(home.expectations_dir)
                                     for f in s.frames)  # fmt: skip
    assert all(c.success for c in result.checks)
    assert {t: f["rows"] for t, f in result.fingerprints.items()} == {
        "creator_scores_daily": 4,
        "flow_allocation_daily": 10,
        "product_tiers_daily": 10,
        "provider_tiers_daily": 3,
        "shop_scores_daily": 6,
    }
    assert result.data_docs == data_docs_index(home) and result.data_docs.exists()
    assert read_gate_result(home, DS).passed


# Faults grouped so that one validation checks several at once (GX runs cost seconds each): within a group
# every fault touches a different row and check, and the gate must name exactly the checks aimed at.
# fault: (SQL that breaks one thing, the blocking check that must catch it, what the error must show)
FAULTS: dict[str, dict[str, tuple[list[str], str, str]]] = {
    "ingest": {
        "quarantine share 2%": (
            [
                "update ingest.load_ledger set rows_loaded = 980, rows_quarantined = 20, "
                f"quarantine_share = 0.02 where ds = '{DS}' and feed = 'orders'"
            ],
            "ingest_ledger.quarantine_share_under_threshold",
            '"feed": "orders", "quarantine_share": 0.02',
        ),
        "rows lost at ingest": (
            [f"update ingest.load_ledger set rows_loaded = 990 where ds = '{DS}' and feed = 'shops'"],
            "ingest_ledger.rows_read_all_accounted",
            '"feed": "shops"',
        ),
        "feed missing": (
            [f"delete from ingest.load_ledger where ds = '{DS}' and feed = 'violations'"],
            "ingest_ledger.every_feed_loaded",
            'missing ["violations"]',
        ),
    },
    "scores": {
        "duplicate key": (
            [
                "insert into marts.shop_scores_daily select * from marts.shop_scores_daily "
                f"where ds = '{DS}' and shop_id = 'S005'"
            ],
            "shop_scores_daily.key_unique",
            '"shop_id": "S005"',
        ),
        "score 101": (
            [
                "update marts.shop_scores_daily set experience_score = 101 "
                f"where ds = '{DS}' and shop_id = 'S001'"
            ],
            "shop_scores_daily.experience_score_in_range",
            '"experience_score": 101.0, "shop_id": "S001"',
        ),
        "cohort shop without score": (
            [f"delete from marts.shop_scores_daily where ds = '{DS}' and shop_id = 'S004'"],
            "shop_scores_daily.every_cohort_shop_scored",
            '"has_score_row": "False", "shop_id": "S004"',
        ),
        "grade outside its set": (
            [f"update marts.shop_scores_daily set grade = 'great' where ds = '{DS}' and shop_id = 'S006'"],
            "shop_scores_daily.grade_in_set",
            '"grade": "great"',
        ),
        "too many L5": (
            [
                "update marts.product_tiers_daily set tier = 'L5', is_selected_goods = true "
                f"where ds = '{DS}' and product_id in ('P006', 'P008')"
            ],
            "product_tiers_daily.l5_share_plausible",
            "e.g. [0.3]",
        ),
        "action outside its set": (
            [
                "update marts.provider_tiers_daily set action = 'promote' "
                f"where ds = '{DS}' and provider_id = 'V002'"
            ],
            "provider_tiers_daily.action_in_set",
            '"action": "promote", "provider_id": "V002"',
        ),
    },
    "flow": {
        "pool sum off by one": (
            [
                "update marts.flow_allocation_daily set impressions = impressions + 1 "
                f"where ds = '{DS}' and pool_id = 'cold_start' and recipient_type = 'reserve'"
            ],
            "flow_allocation_daily.pool_impressions_equal_budget",
            '"pool_id": "cold_start"',
        ),
        "recipient above cap": (
            [  # one more impression for S001, one less in the reserve: the pool total still matches
                "update marts.flow_allocation_daily set impressions = impressions + 1 "
                f"where ds = '{DS}' and recipient_id = 'S001' and pool_id = 'chuanliu'",
                "update marts.flow_allocation_daily set impressions = impressions - 1 "
                f"where ds = '{DS}' and pool_id = 'chuanliu' and recipient_type = 'reserve'",
            ],
            "flow_allocation_daily.no_recipient_above_cap",
            '"recipient_id": "S001"',
        ),
        "ineligible chuanliu shop": (
            [
                "update marts.shop_scores_daily set experience_score = 74.99 "
                f"where ds = '{DS}' and shop_id = 'S002'"
            ],
            "flow_allocation_daily.chuanliu_shop_score_eligible",
            '"recipient_id": "S002"',
        ),
        "selected goods not L5": (
            [
                "update marts.product_tiers_daily set tier = 'L4', is_selected_goods = false "
                f"where ds = '{DS}' and product_id = 'P007'"
            ],
            "flow_allocation_daily.selected_goods_all_l5",
            '"recipient_id": "P007"',
        ),
    },
}


@pytest.mark.parametrize("group", list(FAULTS))
def test_each_blocking_check_fails_on_its_fault(home: Settings, group: str) -> None:
    faults = FAULTS[group]
    for statements, _check, _shown in faults.values():
        mutate(home, *statements)
    with pytest.raises(GateFailed) as failed:
        validate(home, DS)
    result = failed.value.result
    assert not result.passed
    assert set(result.failed) == {check for _sql, check, _shown in faults.values()}  # nothing else
    message = str(failed.value)
    lines = {line.split(": ")[1]: line for line in message.splitlines() if line.startswith("  blocking: ")}
    for fault, (_sql, check, shown) in faults.items():
        assert shown in lines[check], fault
    assert message.endswith(f"Data Docs: {data_docs_index(home)}")
    # the verdict and the Data Docs stay on disk
    assert read_gate_result(home, DS).failed == result.failed
    assert data_docs_index(home).exists()


def test_failure_is_kept_in_validation_results_and_data_docs(home: Settings) -> None:
    mutate(home, f"update marts.provider_tiers_daily set action = 'promote' where ds = '{DS}'")
    result = validate(home, DS, raise_on_failure=False)
    assert result.failed == ["provider_tiers_daily.action_in_set"]
    stored = [
        json.loads(p.read_text())
        for p in (result.results_dir / "provider_tiers_daily" / "rows" / f"ds={DS}").rglob("*.json")
    ]
    assert sorted(r["success"] for r in stored) == [False, True]  # this run, and the fixture's passing run
    pages = list(
        (data_docs_index(home).parent / "validations" / "provider_tiers_daily" / "rows").rglob("*.html")
    )
    assert any("promote" in page.read_text() for page in pages)


def test_row_count_far_from_previous_published_ds_is_only_a_warning(home: Settings) -> None:
    previous = home.exports_dir / "shop_scores_daily" / "ds=2026-01-01"
    previous.mkdir(parents=True)
    (previous / "_manifest.json").write_text(
        json.dumps({"table": "shop_scores_daily", "ds": "2026-01-01", "rows": 20})
    )
    (previous / "_SUCCESS").write_bytes(b"")
    result = validate(home, DS)  # 6 rows vs 20: ratio 0.3 < 0.5, a warning, no exception
    assert result.passed
    assert result.warnings == ["shop_scores_daily.row_count_near_previous"]
    assert "warning: shop_scores_daily.row_count_near_previous" in result.message()


def test_suite_file_with_bad_severity_is_refused(tmp_path: Path) -> None:
    (tmp_path / "broken.yml").write_text(
        "frames:\n  - name: rows\n    sql: select 1 as x\n    expectations:\n"
        "      - {name: x_set, severity: fatal, type: expect_column_values_to_not_be_null,\n"
        "         kwargs: {column: x}}\n"
    )
    with pytest.raises(SuiteFileError, match=r"broken\.yml.*x_set.*severity must be one of"):
        load_suite_files(tmp_path)


def test_missing_threshold_is_named(home: Settings) -> None:
    mutate(home, "delete from seeds.gate_thresholds where threshold = 'max_l5_share'")
    with pytest.raises(RuntimeError, match="max_l5_share"):
        validate(home, DS)


def test_missing_candidate_table_is_named(home: Settings) -> None:
    mutate(home, "drop table marts.provider_tiers_daily")
    with pytest.raises(RuntimeError, match=r"candidate tables missing from .*: marts\.provider_tiers_daily"):
        validate(home, DS)
