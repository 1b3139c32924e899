"""Operating the pipeline: backfill, the run ledger (ops.*), failure alerts and `trust-dw status`.

Real components (generator, ingest, dbt, GX, publish) on tiny data, three pipeline runs for the module:

- home A, day by day: `trust-dw run` of D1 (the normal run);
- home B, the same landing files plus 20 shops with an unknown brand level in D2's drop: `backfill D1…D3`
  → D1 published, D2 stops at the gate (quarantine share over the limit), D3 never runs.

The three-day comparison of a clean backfill with day-by-day runs (5 more runs) is `make test-full` only.
"""

from __future__ import annotations

import csv
import json
import shutil
import socket
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
from trust_dw import alerts, pipeline, run_ledger
from trust_dw.backfill import BackfillResult, backfill, date_range
from trust_dw.cli import app
from trust_dw.config import Settings
from trust_dw.generate import generate
from trust_dw.ingest import commands as ingest_commands
from trust_dw.publish import MANIFEST_FILE, PUBLISHED_TABLES, latest_ds, partition_dir
from trust_dw.warehouse import connect
from typer.testing import CliRunner

D1, D2, D3 = "2026-01-01", "2026-01-02", "2026-01-03"
BAD_SHOP_ROWS = 20


# --- shared homes -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Landing files of D1…D3 (tiny, malformed rows injected so the quarantine counts are not zero)."""
    settings = Settings(home=tmp_path_factory.mktemp("landing") / "dw")
    settings.ensure_dirs()
    generate(settings, "tiny", D1, 3, seed=5, faults="malformed")
    return settings.landing_dir


def _home_with(landing: Path, root: Path) -> Settings:
    settings = Settings(home=root / "dw")
    settings.ensure_dirs()
    shutil.rmtree(settings.landing_dir)
    shutil.copytree(landing, settings.landing_dir)
    return settings


def _add_bad_shops(settings: Settings, ds: str) -> None:
    """A second shops file in the drop of ds: fresh shop ids, a brand level outside the enum (quarantined)."""
    folder = settings.feed_ds_dir("shops", ds)
    with next(iter(sorted(folder.glob("*.csv")))).open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header, rows = (
            list(reader.fieldnames or []),
            [r for _, r in zip(range(BAD_SHOP_ROWS), reader, strict=False)],
        )
    with (folder / "late-corrections.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        for i, row in enumerate(rows):
            writer.writerow({**row, "shop_id": f"SXBAD{i:03d}", "brand_level": "premium"})


@pytest.fixture(scope="module")
def day_by_day(landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = _home_with(landing, tmp_path_factory.mktemp("day_by_day"))
    run = pipeline.run_ds(settings, D1)
    assert run.ok, run.failed
    return settings


@pytest.fixture(scope="module")
def backfilled(landing: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, BackfillResult]:
    settings = _home_with(landing, tmp_path_factory.mktemp("backfilled"))
    _add_bad_shops(settings, D2)
    return settings, backfill(settings, D1, D3)


def _manifest_sha256(settings: Settings, table: str, ds: str) -> str:
    manifest = json.loads((partition_dir(settings, table, ds) / MANIFEST_FILE).read_text(encoding="utf-8"))
    return manifest["files"][0]["sha256"]


def _run_of(settings: Settings, ds: str) -> dict:
    (run,) = run_ledger.last_runs(settings, ds=ds)
    return run


# --- backfill ---------------------------------------------------------------------------------------


def test_backfill_stops_at_the_failed_ds_and_matches_the_normal_run(
    day_by_day: Settings, backfilled: tuple[Settings, BackfillResult]
) -> None:
    settings, result = backfilled
    assert [(o.ds, o.ok, o.failed_stage) for o in result.done] == [(D1, True, None), (D2, False, "gate")]
    assert result.not_run == [D3] and not result.ok
    assert "stopped at ds=2026-01-02: gate failed" in result.message()
    assert "quarantine_share_under_threshold" in result.message()
    assert "not run: 2026-01-03" in result.message()
    # the backfilled D1 is byte for byte the D1 of a normal run
    for table in PUBLISHED_TABLES:
        assert _manifest_sha256(settings, table, D1) == _manifest_sha256(day_by_day, table, D1), table
        assert not partition_dir(settings, table, D2).exists(), table
        assert latest_ds(settings, table) == D1
    assert run_ledger.last_runs(settings, ds=D3) == []  # D3 never started


def test_backfill_runs_dates_in_order_and_refuses_a_reversed_range(settings: Settings) -> None:
    calls: list[str] = []

    def stage(s: Settings, ds: str) -> None:
        calls.append(ds)
        if ds == "2026-03-02":
            raise RuntimeError("dbt node model.shop_scores_daily failed")

    stages = [pipeline.Stage("dbt", stage, "")]
    result = backfill(settings, "2026-02-27", "2026-03-03", stages=stages)
    assert calls == ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]  # stops at the failure
    assert result.not_run == ["2026-03-03"]
    assert result.done[-1].failed_stage == "dbt" and "shop_scores_daily" in result.done[-1].error
    assert date_range("2024-02-28", "2024-03-01") == ["2024-02-28", "2024-02-29", "2024-03-01"]
    with pytest.raises(ValueError, match="before --start"):
        date_range(D2, D1)
    out = CliRunner().invoke(app, ["backfill", "--start", D2, "--end", D1])
    assert out.exit_code == 2 and "before --start" in out.output


# --- the run ledger ---------------------------------------------------------------------------------


def test_ledger_of_a_successful_and_a_gate_failed_run(backfilled: tuple[Settings, BackfillResult]) -> None:
    settings, result = backfilled
    ok_run, failed_run = (o.run_id for o in result.done)
    assert ok_run.startswith(f"backfill__{D1}__") and failed_run.startswith(f"backfill__{D2}__")

    stages = run_ledger.stage_runs_of(settings, ok_run)
    assert [(s["stage"], s["status"]) for s in stages] == [
        ("ingest", "success"),
        ("dbt", "success"),
        ("gate", "success"),
        ("publish", "success"),
    ]
    with connect(settings, read_only=True) as con:
        read, loaded, quarantined = con.execute(
            "select sum(rows_read), sum(rows_loaded), sum(rows_quarantined) from ingest.load_ledger "
            "where ds = ?",
            [D1],
        ).fetchone()
        working_rows = con.execute("select count(*) from ops.stage_runs").fetchone()[0]
    ingest, _dbt, gate, publish = stages
    assert (ingest["rows_in"], ingest["rows_out"], ingest["rows_quarantined"]) == (read, loaded, quarantined)
    assert quarantined > 0 and read == loaded + quarantined
    assert gate["gate_result"] == "passed" and not gate["published"]
    published_rows = sum(
        json.loads((partition_dir(settings, t, D1) / MANIFEST_FILE).read_text(encoding="utf-8"))["rows"]
        for t in PUBLISHED_TABLES
    )
    assert publish["published"] is True and publish["rows_out"] == published_rows == gate["rows_in"]

    failed = run_ledger.stage_runs_of(settings, failed_run)
    assert [(s["stage"], s["status"]) for s in failed] == [
        ("ingest", "success"),
        ("dbt", "success"),
        ("gate", "failed"),
    ]
    assert failed[2]["gate_result"] == "failed"
    assert "GateFailed" in failed[2]["error"] and "quarantine_share_under_threshold" in failed[2]["error"]
    assert failed[0]["rows_quarantined"] >= BAD_SHOP_ROWS

    d1, d2 = _run_of(settings, D1), _run_of(settings, D2)
    assert (d1["status"], d1["failed_stage"], d1["gate_result"], d1["published"]) == (
        "success",
        None,
        "passed",
        True,
    )
    assert (d2["status"], d2["failed_stage"], d2["gate_result"], d2["published"]) == (
        "failed",
        "gate",
        "failed",
        False,
    )
    assert d1["rows_published"] == published_rows and d2["rows_published"] is None
    assert (d1["rows_read"], d1["rows_quarantined"]) == (read, quarantined)
    # the working file holds the same 7 records (the daily report reads its stage timings there)
    assert working_rows == 7


def test_serving_file_exposes_the_ledger_even_for_a_run_after_the_last_publish(
    backfilled: tuple[Settings, BackfillResult],
) -> None:
    settings, _ = backfilled
    con = duckdb.connect(str(settings.serving_path), read_only=True)
    try:
        runs = con.execute(
            "select cast(ds as varchar), trigger, status, failed_stage, published from ops.pipeline_runs "
            "order by ds"
        ).fetchall()
        stages = con.execute("select count(*), count(distinct run_id) from ops.stage_runs").fetchone()
    finally:
        con.close()
    # the serving file was built by D1's publish; D2's failed run shows because the views read the ledger
    assert runs == [(D1, "backfill", "success", None, True), (D2, "backfill", "failed", "gate", False)]
    assert stages == (7, 2)


def test_a_failed_run_writes_one_structured_alert(backfilled: tuple[Settings, BackfillResult]) -> None:
    settings, result = backfilled
    (alert,) = alerts.read_alerts(settings)
    assert alert["kind"] == "run_failed" and alert["source"] == "trust-dw backfill"
    assert (alert["ds"], alert["task_id"], alert["run_id"]) == (D2, "gate", result.done[1].run_id)
    assert alert["error_type"] == "GateFailed" and "quarantine_share_under_threshold" in alert["error"]


def test_status_prints_the_last_runs(
    backfilled: tuple[Settings, BackfillResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, result = backfilled
    monkeypatch.setenv("TRUST_DW_HOME", str(settings.home))
    monkeypatch.setattr(ingest_commands.console, "width", 250)
    out = CliRunner().invoke(app, ["status"])
    assert out.exit_code == 0, out.output
    assert "pipeline runs (last 7)" in out.output
    lines = [line for line in out.output.splitlines() if "backfill__" in line]
    assert len(lines) == 2
    assert (
        D2 in lines[0] and result.done[1].run_id in lines[0] and "failed at gate" in lines[0]
    )  # newest first
    assert D1 in lines[1] and "success" in lines[1] and "passed" in lines[1] and "yes" in lines[1]
    out = CliRunner().invoke(app, ["status", "--ds", D1])
    assert "pipeline runs (ds=2026-01-01)" in out.output and result.done[1].run_id not in out.output


# --- alerts -----------------------------------------------------------------------------------------


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook():
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", _Hook.received
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sensor_failure_context() -> dict:
    ti = SimpleNamespace(
        dag_id="trust_commerce_daily",
        task_id="wait_orders",
        run_id="scheduled__2026-01-04T16:00:00+00:00",
        try_number=3,
        max_tries=2,
        log_url="http://localhost:8080/log",
    )
    logical = datetime.fromisoformat("2026-01-04T16:00:00+00:00")  # 2026-01-05 00:00 in Shanghai
    return {
        "ti": ti,
        "run_id": ti.run_id,
        "logical_date": logical,
        "dag_run": SimpleNamespace(dag_id=ti.dag_id, logical_date=logical, run_after=logical),
        "exception": TimeoutError("Sensor has timed out; run duration of 21600 seconds exceeds 21600"),
    }


def test_failure_callback_alerts_posts_to_the_webhook_and_records_the_sensor(
    settings: Settings, webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = webhook
    monkeypatch.setenv(alerts.WEBHOOK_URL_ENV, url)
    alerts.on_failure_callback(_sensor_failure_context())
    (written,) = alerts.read_alerts(settings)
    assert received == [written]
    assert written["kind"] == "task_failed" and written["source"] == "airflow"
    assert (written["task_id"], written["ds"], written["try_number"], written["max_tries"]) == (
        "wait_orders",
        "2026-01-05",
        3,
        2,
    )
    assert written["error_type"] == "TimeoutError" and "timed out" in written["error"]
    # a sensor does not record itself: the callback puts its failure in the ledger
    (run,) = run_ledger.last_runs(settings)
    assert (run["ds"].isoformat(), run["status"], run["failed_stage"]) == ("2026-01-05", "failed", "wait")
    (stage,) = run_ledger.stage_runs_of(settings, written["run_id"])
    assert (stage["feed"], stage["task_id"], stage["attempt"]) == ("orders", "wait_orders", 3)


def test_alert_survives_an_unreachable_or_failing_webhook(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(alerts.WEBHOOK_URL_ENV, f"http://127.0.0.1:{_closed_port()}/alerts")
    monkeypatch.setenv(alerts.WEBHOOK_TIMEOUT_ENV, "2")
    delivery = alerts.send_alert(settings, {"kind": "run_failed", "ds": D1})
    assert delivery.webhook == "failed" and "not reached" in delivery.problem
    monkeypatch.setenv(alerts.WEBHOOK_URL_ENV, "not a url")
    assert alerts.send_alert(settings, {"kind": "run_failed", "ds": D2}).webhook == "failed"
    monkeypatch.delenv(alerts.WEBHOOK_URL_ENV)
    assert alerts.send_alert(settings, {"kind": "run_failed", "ds": D3}).webhook == "off"
    assert [a["ds"] for a in alerts.read_alerts(settings)] == [D1, D2, D3]  # every alert still written
    alerts.on_failure_callback({})  # a context without anything: logged, never raised


def test_stage_of_airflow_tasks() -> None:
    assert run_ledger.stage_of_task("wait_provider_shop_links") == ("wait", "provider_shop_links")
    assert run_ledger.stage_of_task("ingest_orders") == ("ingest", "orders")
    assert run_ledger.stage_of_task("dbt.shop_scores_daily_run") == ("dbt", None)
    assert run_ledger.stage_of_task("validate") == ("gate", None)
    assert [
        run_ledger.records_itself(t) for t in ("ingest_orders", "dbt_build", "validate", "wait_orders")
    ] == [
        True,
        True,
        True,
        False,
    ]


# --- make test-full: three clean days, backfill = day by day ---------------------------------------


@pytest.mark.full
def test_backfill_of_three_days_equals_day_by_day_runs(
    landing: Path, day_by_day: Settings, tmp_path: Path
) -> None:
    for ds in (D2, D3):
        assert pipeline.run_ds(day_by_day, ds).ok
    settings = _home_with(landing, tmp_path)
    result = backfill(settings, D1, D3)
    assert result.ok, result.message()
    for ds in (D1, D2, D3):
        for table in PUBLISHED_TABLES:
            assert _manifest_sha256(settings, table, ds) == _manifest_sha256(day_by_day, table, ds), (
                table,
                ds,
            )
