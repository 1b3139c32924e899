"""Write–audit–publish (DESIGN §9) on synthetic candidates: layout and manifests, byte-identical reruns,
a failed gate changes nothing, LATEST never moves back nor points at an incomplete partition, and a BI
reader keeps working while the serving file is swapped."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from rich.console import Console
from synthetic_candidates import POOL_BUDGET, build_warehouse, mutate
from trust_dw import publish as publish_module
from trust_dw.cli import app
from trust_dw.config import Settings
from trust_dw.publish import (
    PUBLISHED_TABLES,
    TABLE_KEYS,
    NotAudited,
    PublishedSnapshotBroken,
    asset_uri,
    check_published_snapshots,
    latest_ds,
    partition_dir,
    publish,
    published_ds_from_events,
    refresh_serving_file,
    verify_partition,
    verify_published,
)
from trust_dw.published_summary import NotPublished, render, summarize
from trust_dw.quality import GateFailed, data_docs_index, validate
from typer.testing import CliRunner

D1, D2, D3 = "2026-01-01", "2026-01-02", "2026-01-03"
ROWS = {
    "shop_scores_daily": 6,
    "creator_scores_daily": 4,
    "product_tiers_daily": 10,
    "provider_tiers_daily": 3,
    "flow_allocation_daily": 10,
}


@pytest.fixture(scope="module")
def published_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """D1 validated and published, D2 and D3 validated (not published). Copied per test."""
    home = tmp_path_factory.mktemp("publish") / "dw"
    settings = Settings(home=home)
    settings.ensure_dirs()
    build_warehouse(settings)
    for ds in (D1, D2, D3):
        validate(settings, ds)
    publish(settings, D1, run_id="run-d1")
    return home


@pytest.fixture
def home(published_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    target = tmp_path / "dw"
    shutil.copytree(published_home, target)
    monkeypatch.setenv("TRUST_DW_HOME", str(target))
    settings = Settings.from_env()
    # The views hold absolute paths: a moved home gets its serving file rebuilt (docs: serving file).
    refresh_serving_file(settings)
    return settings


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` by relative path (the published state, byte for byte)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def published_state(settings: Settings) -> dict[str, str]:
    state = tree_digest(settings.exports_dir)
    state["serving"] = hashlib.sha256(settings.serving_path.read_bytes()).hexdigest()
    return state


def test_published_layout_manifest_and_serving_views(home: Settings) -> None:
    result = publish(home, D2, run_id="run-d2")
    assert [p.table for p in result.partitions] == list(PUBLISHED_TABLES)
    con = duckdb.connect(str(home.serving_path), read_only=True)
    for table in PUBLISHED_TABLES:
        folder = partition_dir(home, table, D2)
        assert sorted(p.name for p in folder.iterdir()) == ["_SUCCESS", "_manifest.json", "part-0.parquet"]
        manifest = json.loads((folder / "_manifest.json").read_text())
        part = folder / "part-0.parquet"
        assert manifest["table"] == table and manifest["ds"] == D2 and manifest["rows"] == ROWS[table]
        assert manifest["files"] == [
            {
                "path": "part-0.parquet",
                "rows": ROWS[table],
                "bytes": part.stat().st_size,
                "sha256": hashlib.sha256(part.read_bytes()).hexdigest(),
            }
        ]
        data = pq.read_table(part)
        assert [c["name"] for c in manifest["columns"]] == data.schema.names
        assert manifest["columns"][0] == {"name": "ds", "sql_type": "DATE", "type": "date32[day]"}
        assert manifest["run_id"] == "run-d2" and manifest["gate"]["passed"] is True
        keys = [tuple(row[k] for k in TABLE_KEYS[table][1:]) for row in data.to_pylist()]
        assert keys == sorted(keys)  # rows sorted by key
        assert (home.exports_dir / table / "LATEST").read_text().strip() == D2
        # the serving file: every ds through the view, the newest through <table>_latest
        per_ds = con.execute(f"select ds::varchar, count(*) from {table} group by 1 order by 1").fetchall()
        assert per_ds == [(D1, ROWS[table]), (D2, ROWS[table])]
        assert con.execute(f"select count(*), min(ds)::varchar from {table}_latest").fetchall() == [
            (ROWS[table], D2)
        ]
        assert asset_uri(table) == f"trust-dw://exports/{table}"
    assert con.execute("select count(*) from published_partitions").fetchone() == (10,)
    assert con.execute(
        "select experience_score::double from shop_scores_daily where ds = ? and shop_id = 'S001'", [D2]
    ).fetchone() == (92.75,)
    # older DuckDB clients (BI drivers) can open it: storage v1.0.0 (header version 64), not v69
    assert con.execute(
        "select tags['storage_version'] from duckdb_databases() where not internal"
    ).fetchone() == ("v1.0.0+",)
    con.close()
    assert not list(home.serving_path.parent.glob(".*tmp"))
    assert all(check.ok for check in verify_published(home))


def test_rerun_of_a_ds_is_byte_identical(home: Settings) -> None:
    first = publish(home, D2, run_id="run-a")
    before = tree_digest(home.exports_dir)
    manifests = {t: json.loads((partition_dir(home, t, D2) / "_manifest.json").read_text()) for t in ROWS}
    validate(home, D2)  # a fresh verdict for the same candidates
    second = publish(home, D2, run_id="run-b")
    after = tree_digest(home.exports_dir)
    assert [p.sha256 for p in first.partitions] == [p.sha256 for p in second.partitions]
    assert {k: v for k, v in before.items() if k.endswith(".parquet")} == {
        k: v for k, v in after.items() if k.endswith(".parquet")
    }
    volatile = ("run_id", "published_at", "gate")
    for table in ROWS:
        again = json.loads((partition_dir(home, table, D2) / "_manifest.json").read_text())
        assert again["run_id"] == "run-b"
        assert {k: v for k, v in again.items() if k not in volatile} == {
            k: v for k, v in manifests[table].items() if k not in volatile
        }


def test_failed_gate_publishes_nothing_and_keeps_data_docs(home: Settings) -> None:
    before = published_state(home)
    mutate(home, f"update marts.flow_allocation_daily set impressions = impressions + 1 where ds = '{D2}'")
    with pytest.raises(GateFailed, match="flow_allocation_daily.pool_impressions_equal_budget"):
        validate(home, D2)
    with pytest.raises(
        NotAudited, match=r"failed the quality gate \(flow_allocation_daily\.pool_impressions"
    ):
        publish(home, D2)
    assert published_state(home) == before  # serving file and every snapshot byte for byte
    assert not partition_dir(home, "flow_allocation_daily", D2).exists()
    pages = (data_docs_index(home).parent / "validations" / "flow_allocation_daily" / "pool_totals").rglob(
        "*.html"
    )
    assert any("Failed" in page.read_text() for page in pages)


def test_publish_refuses_candidates_changed_after_the_gate(home: Settings) -> None:
    before = published_state(home)
    mutate(
        home,
        "update marts.provider_tiers_daily set provider_score = 60 "
        f"where ds = '{D2}' and provider_id = 'V002'",
    )
    with pytest.raises(
        NotAudited, match="marts.provider_tiers_daily for ds=2026-01-02 changed since the gate"
    ):
        publish(home, D2)
    assert published_state(home) == before


def test_publish_refuses_a_ds_never_validated(home: Settings) -> None:
    with pytest.raises(NotAudited, match="ds=2026-01-04 was never validated"):
        publish(home, "2026-01-04")


def test_backfill_of_an_older_ds_does_not_move_latest_back(home: Settings) -> None:
    publish(home, D3, run_id="run-d3")
    d1_before = tree_digest(partition_dir(home, "shop_scores_daily", D1))
    publish(home, D1, run_id="run-d1-again")  # backfill: replaces D1 in place
    assert {latest_ds(home, t) for t in PUBLISHED_TABLES} == {D3}
    d1_after = tree_digest(partition_dir(home, "shop_scores_daily", D1))
    assert d1_after["part-0.parquet"] == d1_before["part-0.parquet"]
    assert json.loads((partition_dir(home, "shop_scores_daily", D1) / "_manifest.json").read_text())[
        "run_id"
    ] == ("run-d1-again")
    assert not [p for p in (home.exports_dir / "shop_scores_daily").iterdir() if p.name.startswith(".")]


def test_crash_mid_publish_leaves_latest_on_a_complete_partition(
    home: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = published_state(home)
    real_write = pq.write_table
    calls = []

    def failing_write(table, where, **kwargs):  # the third table's file fails half-written
        calls.append(where)
        if len(calls) == 3:
            Path(where).write_bytes(b"PAR1 half a file")
            raise OSError("disk full")
        return real_write(table, where, **kwargs)

    monkeypatch.setattr(publish_module.pq, "write_table", failing_write)
    with pytest.raises(OSError, match="disk full"):
        publish(home, D2, run_id="run-crash")
    after = published_state(home)
    # the two tables written before the crash have their complete D2 partition; nothing else changed
    new = {k for k in after if k not in before}
    assert {k.split("/")[0] for k in new} == {"shop_scores_daily", "creator_scores_daily"}
    assert {k: v for k, v in after.items() if k in before} == before
    for table in PUBLISHED_TABLES:
        latest = latest_ds(home, table)
        assert latest == D1  # LATEST only moves once every table is in place
        assert verify_partition(home, table, latest).ok
        assert not [p for p in (home.exports_dir / table).iterdir() if p.name.startswith(".")]
    monkeypatch.undo()
    publish(home, D2, run_id="run-retry")  # the retry completes the ds
    assert {latest_ds(home, t) for t in PUBLISHED_TABLES} == {D2}


def test_verify_partition_catches_tampering(home: Settings) -> None:
    part = partition_dir(home, "product_tiers_daily", D1) / "part-0.parquet"
    data = bytearray(part.read_bytes())
    data[100] ^= 0xFF
    part.write_bytes(bytes(data))
    check = verify_partition(home, "product_tiers_daily", D1)
    assert not check.ok and any("sha256 mismatch" in p for p in check.problems)
    (partition_dir(home, "provider_tiers_daily", D1) / "_SUCCESS").unlink()
    assert verify_partition(home, "provider_tiers_daily", D1).problems[0].startswith("no _SUCCESS")


READER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    stop = sys.argv[2]
    import os
    seen, errors, queries = set(), [], 0
    while True:
        try:
            rows = con.execute(
                "select ds::varchar, count(*) from shop_scores_daily group by 1 order by 1"
            ).fetchall()
            seen.add(tuple(rows))
        except Exception as exc:
            errors.append(repr(exc))
        queries += 1
        if queries == 1:
            open(stop + ".ready", "w").close()  # connected and answered: the test may publish now
        if os.path.exists(stop) and queries >= 3:
            break
    print(repr((sorted(seen), errors, queries)))
    """
)


def test_reader_keeps_working_while_publish_swaps_the_serving_file(home: Settings, tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(home.serving_path), str(stop)],
        cwd="/",  # views use absolute paths: a BI tool opens the file from anywhere
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = tmp_path / "stop.ready"
        for _ in range(600):  # the reader holds the current serving file open before anything is published
            if ready.exists() or reader.poll() is not None:
                break
            time.sleep(0.1)
        assert ready.exists(), reader.communicate()[1]
        for ds in (D2, D3, D2):
            publish(home, ds, run_id=f"run-{ds}")
        # a second writer-side open while the reader holds the old file: a new reader opens the new one
        con = duckdb.connect(str(home.serving_path), read_only=True)
        assert con.execute("select count(distinct ds) from shop_scores_daily").fetchone() == (3,)
        con.close()
    finally:
        stop.write_text("")
        out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    seen, errors, queries = eval(out)  # noqa: S307 - our own child's repr
    assert errors == []
    assert queries >= 3
    six = ROWS["shop_scores_daily"]
    # every answer is a consistent set of complete partitions, and the reader's (old, replaced) file still
    # sees the partitions published after it opened it, through its views
    assert set(seen) <= {((D1, six),), ((D1, six), (D2, six)), ((D1, six), (D2, six), (D3, six))}
    assert ((D1, six), (D2, six), (D3, six)) in seen


class _Event:  # the shape of Airflow's AssetEventDagRunReferenceResult that the consumer reads
    def __init__(self, table: str, ds: str, minute: int) -> None:
        self.asset = type("AssetRef", (), {"uri": asset_uri(table), "name": table})()
        self.extra = {"ds": ds, "rows": ROWS[table]}
        self.timestamp = datetime(2026, 1, 4, 0, minute, tzinfo=UTC)


def test_consumer_checks_the_partitions_the_asset_events_name(home: Settings) -> None:
    publish(home, D2, run_id="run-d2")
    events = {table: [_Event(table, D1, 0)] for table in PUBLISHED_TABLES}
    events["shop_scores_daily"].append(_Event("shop_scores_daily", D2, 5))  # the newest event wins
    assert published_ds_from_events(e for group in events.values() for e in group) == {
        **{t: D1 for t in PUBLISHED_TABLES},
        "shop_scores_daily": D2,
    }
    checked = check_published_snapshots(home, events)
    assert checked["shop_scores_daily"] == {"ds": D2, "rows": 6}
    assert checked["flow_allocation_daily"] == {"ds": D1, "rows": 10}
    assert check_published_snapshots(home, None)["product_tiers_daily"] == {"ds": D2, "rows": 10}  # LATEST
    (partition_dir(home, "creator_scores_daily", D1) / "part-0.parquet").write_bytes(b"not the file")
    with pytest.raises(
        PublishedSnapshotBroken, match="creator_scores_daily ds=2026-01-01 rows=4 BROKEN: sha256"
    ):
        check_published_snapshots(home, events)


def test_published_summary_reads_the_serving_file(home: Settings) -> None:
    publish(home, D2, run_id="run-d2")
    summary = summarize(home)  # LATEST
    assert summary.ds == D2 and summary.gate.passed
    assert summary.rows == ROWS and all(summary.partitions_ok.values())
    assert summary.products_per_tier == [("L0", 1), ("L1", 1), ("L2", 1), ("L3", 3), ("L4", 3), ("L5", 1)]
    assert summary.shops_per_grade == [("excellent", 1), ("good", 2), ("fair", 2), ("poor", 1)]
    pools = {p.pool_id: p for p in summary.pools}
    assert {p: pools[p].budget for p in pools} == POOL_BUDGET
    chuanliu = {part.recipient_type: part for part in pools["chuanliu"].parts}
    assert chuanliu["shop"].recipients == 3 and chuanliu["shop"].top[0] == ("S001", 5_753_424)
    assert chuanliu["reserve"].impressions == 142_191_783
    text = Console(width=120, record=True)
    text.print(render(summary))
    shown = text.export_text()
    assert "Quality gate for ds=2026-01-02: passed" in shown and str(home.serving_path) in shown
    with pytest.raises(NotPublished, match="ds=2026-01-09 is not published"):
        summarize(home, "2026-01-09")


def test_cli_gate_publish_and_published(home: Settings) -> None:
    runner = CliRunner()
    gate = runner.invoke(app, ["gate", "--ds", D3])
    assert gate.exit_code == 0, gate.output
    assert "quality gate passed for ds=2026-01-03" in gate.output
    done = runner.invoke(app, ["publish", "--ds", D3, "--run-id", "cli"])
    assert done.exit_code == 0, done.output
    assert "flow_allocation_daily: 10 rows" in done.output
    shown = runner.invoke(app, ["published", "--ds", D3])
    assert shown.exit_code == 0 and "selected_goods" in shown.output
    refused = runner.invoke(app, ["publish", "--ds", "2026-01-05"])
    assert refused.exit_code == 1 and "never validated" in refused.output


@pytest.mark.e2e
def test_consumer_dag_runs_in_airflow(home: Settings, tmp_path: Path) -> None:
    """The real consumer DAG file, run by Airflow (`airflow dags test`), verifies the LATEST snapshots.

    Its dags folder holds only that file, so Airflow does not parse (and Cosmos does not render) the main DAG.
    """
    from trust_dw.airflow_local import LocalAirflow

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "trust_commerce_consumers.py").symlink_to(home.repo_root / "dags" / "trust_commerce_consumers.py")
    airflow = LocalAirflow(home, extra_env={"AIRFLOW__CORE__DAGS_FOLDER": str(dags)})
    outcome = airflow.run_dag(D1, dag_id="trust_commerce_consumers")
    assert outcome.ok, outcome.log_tail()
    assert outcome.task_states == {"check_snapshots": "success"}
    assert "all 5 published snapshots verified, 33 rows in total" in outcome.log_path.read_text()
