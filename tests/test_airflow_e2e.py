"""End to end through Airflow: the real DAG file, run by `airflow dags test` on a SQLite metadata DB.

Nothing is mocked: generated landing files (every fault kind) → sensors → ingest → dbt → Great Expectations
gate → publish, each task run by Airflow in the local harness (trust_dw.airflow_local). One Airflow home and
two DAG runs are shared by the whole module (db migrate and dbt are the slow parts):

- D1: tiny data with duplicates, late CDC rows, malformed rows, schema drift and orphan keys → the run
  succeeds, the ledger reconciles, the quarantine holds exactly the malformed rows of the generator's fault
  manifest, every table is published with its Asset event.
- D3 (make test-full only): the DAG with TRUST_DW_DBT_TASKS=watcher (Cosmos watcher mode) succeeds and
  publishes, every dbt node a task of its own in the writer pool.
- D2: the same plus 20 shop rows with an unknown brand level (~10% of the shops drop, over the 1% limit) →
  the gate fails, the DAG run fails at `validate`, nothing of D2 is published, LATEST stays D1.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from trust_dw.airflow_local import DAG_ID, DagRunOutcome, LocalAirflow
from trust_dw.config import Settings
from trust_dw.feeds import FEED_NAMES
from trust_dw.generate import FAULT_KINDS, generate
from trust_dw.publish import (
    MANIFEST_FILE,
    PUBLISHED_TABLES,
    SUCCESS_FILE,
    asset_uri,
    latest_ds,
    partition_dir,
)
from trust_dw.warehouse import connect

pytestmark = pytest.mark.e2e

D1, D2, D3 = "2026-01-01", "2026-01-02", "2026-01-03"
BAD_SHOP_ROWS = 20


def _manifest(settings: Settings, ds: str) -> dict:
    return json.loads((settings.landing_dir / "_faults" / f"ds={ds}.json").read_text(encoding="utf-8"))


def _add_bad_shops_file(settings: Settings, ds: str) -> Path:
    """A second file in the shops drop of ds: real shop rows, fresh ids, a brand level outside the enum."""
    folder = settings.feed_ds_dir("shops", ds)
    source = next(p for p in sorted(folder.glob("*.csv")))
    with source.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        rows = [row for _, row in zip(range(BAD_SHOP_ROWS), reader, strict=False)]
    bad = folder / "late-corrections.csv"
    with bad.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        for i, row in enumerate(rows):
            writer.writerow({**row, "shop_id": f"SXBAD{i:03d}", "brand_level": "premium"})
    return bad


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("e2e") / "dw")
    settings.ensure_dirs()
    generate(settings, "tiny", D1, 3, seed=11, faults=",".join(FAULT_KINDS))
    _add_bad_shops_file(settings, D2)
    return settings


@pytest.fixture(scope="module")
def airflow(home: Settings) -> LocalAirflow:
    local = LocalAirflow(home)
    assert local.init() is True
    assert local.init() is False  # initialised once: the second call does nothing
    return local


@pytest.fixture(scope="module")
def run_d1(airflow: LocalAirflow) -> DagRunOutcome:
    outcome = airflow.run_dag(D1)
    print(f"DAG run {D1}: {outcome.state} in {outcome.seconds:.1f} s")
    return outcome


@pytest.fixture(scope="module")
def run_d2(airflow: LocalAirflow, run_d1: DagRunOutcome) -> DagRunOutcome:
    outcome = airflow.run_dag(D2)  # after D1: business dates run in order
    print(f"DAG run {D2}: {outcome.state} in {outcome.seconds:.1f} s")
    return outcome


def _explain(outcome: DagRunOutcome) -> str:
    return f"{outcome.state}, failed: {outcome.tasks_in('failed')}\n{outcome.log_tail(60)}"


def test_dag_run_succeeds_with_every_task(run_d1: DagRunOutcome) -> None:
    assert run_d1.ok, _explain(run_d1)
    expected = {f"wait_{f}" for f in FEED_NAMES} | {f"ingest_{f}" for f in FEED_NAMES}
    expected |= {"dbt_build", "validate", "publish"}
    assert run_d1.task_states == dict.fromkeys(expected, "success")


def test_ledger_reconciles_with_the_fault_manifest(home: Settings, run_d1: DagRunOutcome) -> None:
    with connect(home, read_only=True) as con:
        ledger = con.execute(
            "select feed, status, rows_read, rows_loaded, rows_quarantined "
            "from ingest.load_ledger where ds = ?",
            [D1],
        ).fetchall()
    assert sorted(row[0] for row in ledger) == sorted(FEED_NAMES)
    for feed, status, read, loaded, quarantined in ledger:
        assert status == "loaded", feed
        assert read == loaded + quarantined, feed
    by_feed = {row[0]: row for row in ledger}
    for info in _manifest(home, D1)["files"].values():
        _, _, read, _, quarantined = by_feed[info["feed"]]
        assert (read, quarantined) == (info["rows"], info["expected_quarantined"]), info


def test_quarantine_holds_exactly_the_injected_malformed_rows(home: Settings, run_d1: DagRunOutcome) -> None:
    manifest = _manifest(home, D1)
    expected = {(m["file"], m["line"], m["reason_code"]) for m in manifest["malformed"]}
    assert expected, "the generator injected no malformed row"
    with connect(home, read_only=True) as con:
        rows = con.execute(
            "select source_file, source_line, reason_code from ingest.quarantine where ds = ?", [D1]
        ).fetchall()
    got = {(Path(f).as_posix().split("landing/")[-1], line, code) for f, line, code in rows}
    assert got == expected
    assert len(rows) == len(expected)  # no row quarantined twice


def test_every_table_is_published_with_its_run_id(home: Settings, run_d1: DagRunOutcome) -> None:
    for table in PUBLISHED_TABLES:
        folder = partition_dir(home, table, D1)
        assert (folder / "part-0.parquet").is_file(), table
        assert (folder / SUCCESS_FILE).is_file(), table
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        assert manifest["ds"] == D1
        assert manifest["run_id"] == run_d1.run_id  # the DAG passes Airflow's run id to publish
        assert latest_ds(home, table) == D1
    assert home.serving_path.is_file()


def test_publish_emits_one_asset_event_per_table(airflow: LocalAirflow, run_d1: DagRunOutcome) -> None:
    with sqlite3.connect(f"file:{airflow.db_path}?mode=ro", uri=True) as con:
        events = con.execute(
            "select a.uri, e.extra from asset_event e join asset a on a.id = e.asset_id "
            "where e.source_dag_id = ? and e.source_run_id = ?",
            (DAG_ID, run_d1.run_id),
        ).fetchall()
    extras = {uri: json.loads(extra) for uri, extra in events}
    assert set(extras) == {asset_uri(t) for t in PUBLISHED_TABLES}
    assert {e["ds"] for e in extras.values()} == {D1}
    assert all(e["run_id"] == run_d1.run_id and e["rows"] >= 0 for e in extras.values())


def test_a_failing_gate_fails_the_dag_and_publishes_nothing(home: Settings, run_d2: DagRunOutcome) -> None:
    assert run_d2.returncode != 0
    assert run_d2.state == "failed"
    assert run_d2.task_states["validate"] == "failed"
    assert run_d2.task_states["publish"] == "upstream_failed"
    assert run_d2.task_states["dbt_build"] == "success"
    # the gate's own verdict names the failed expectation; Data Docs are left on disk
    from trust_dw.quality import read_gate_result

    gate = read_gate_result(home, D2)
    assert gate is not None and not gate.passed
    assert any("quarantine_share_under_threshold" in name for name in gate.failed), gate.failed
    assert gate.data_docs.is_file()
    assert "quarantine_share_under_threshold" in run_d2.log_path.read_text(encoding="utf-8", errors="replace")
    # nothing of D2 left the building; the previous published state is untouched
    for table in PUBLISHED_TABLES:
        assert not partition_dir(home, table, D2).exists(), table
        assert latest_ds(home, table) == D1


@pytest.mark.full
def test_watcher_mode_runs_every_dbt_node_as_a_task(home: Settings, run_d2: DagRunOutcome) -> None:
    watcher = LocalAirflow(home, extra_env={"TRUST_DW_DBT_TASKS": "watcher"})
    outcome = watcher.run_dag(D3)
    print(f"DAG run {D3} (watcher): {outcome.state} in {outcome.seconds:.1f} s")
    assert outcome.ok, _explain(outcome)
    dbt_tasks = {t: s for t, s in outcome.task_states.items() if t.startswith("dbt.")}
    assert "dbt.dbt_producer_watcher" in dbt_tasks
    assert len(dbt_tasks) > 100  # one per model, seed, snapshot and tested model
    assert set(dbt_tasks.values()) == {"success"}
    with sqlite3.connect(f"file:{watcher.db_path}?mode=ro", uri=True) as con:
        pools = dict(
            con.execute(
                "select task_id, pool from task_instance where dag_id = ? and run_id = ?",
                (DAG_ID, outcome.run_id),
            ).fetchall()
        )
    # every task that runs dbt is a writer; Cosmos' EmptyOperator gateway after the producer runs nothing
    assert {pools[t] for t in dbt_tasks if t != "dbt.dbt_producer_watcher_done"} == {"duckdb_writer"}
    assert {latest_ds(home, t) for t in PUBLISHED_TABLES} == {D3}


def test_runs_are_in_the_ledger_and_the_failed_gate_alerted(
    home: Settings, run_d1: DagRunOutcome, run_d2: DagRunOutcome
) -> None:
    """The DAG's tasks record themselves in the run ledger; the failed validate task's callback alerts."""
    from trust_dw import alerts, run_ledger

    (d1,) = run_ledger.last_runs(home, ds=D1)
    assert (d1["run_id"], d1["trigger"], d1["status"], d1["published"]) == (
        run_d1.run_id,
        "airflow",
        "success",
        True,
    )
    stages = run_ledger.stage_runs_of(home, run_d1.run_id)
    assert sorted(s["task_id"] for s in stages) == sorted(
        [f"ingest_{feed}" for feed in FEED_NAMES] + ["dbt_build", "validate", "publish"]
    )
    (d2,) = run_ledger.last_runs(home, ds=D2)
    assert (d2["run_id"], d2["status"], d2["failed_stage"], d2["gate_result"]) == (
        run_d2.run_id,
        "failed",
        "gate",
        "failed",
    )
    (alert,) = [a for a in alerts.read_alerts(home) if a["run_id"] == run_d2.run_id]
    assert (alert["kind"], alert["task_id"], alert["ds"], alert["error_type"]) == (
        "task_failed",
        "validate",
        D2,
        "GateFailed",
    )
