"""The shape of trust_commerce_daily as Airflow parses it, and the ds mapping of its runs.

The DAG file is parsed by Airflow's DagBag in a subprocess (its own AIRFLOW_HOME, a controlled environment),
which reports the DAG's structure as JSON: no Airflow state leaks into the test session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from trust_dw.config import REPO_ROOT
from trust_dw.feeds import FEED_NAMES
from trust_dw.pipeline import BUSINESS_TZ, WRITER_POOL, RunPolicy, business_ds
from trust_dw.publish import PUBLISHED_TABLES, asset_uri

DAG_FILE = REPO_ROOT / "dags" / "trust_commerce_daily.py"
HEAVY_MODULES = ("dbt.cli.main", "dbt.adapters.duckdb", "great_expectations", "pandas", "cosmos.converter")

_PARSE = r"""
import json, sys, time
from airflow.dag_processing.dagbag import DagBag

started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - started
dag = bag.dags.get("trust_commerce_daily")
out = {"import_errors": {k: v[-2000:] for k, v in bag.import_errors.items()}, "parse_seconds": seconds}
if dag is not None:
    tl = dag.timetable
    out["dag"] = {
        "max_active_runs": dag.max_active_runs,
        "catchup": dag.catchup,
        "timetable": type(tl).__name__,
        "timezone": str(getattr(tl, "timezone", "")),
        "cron": getattr(tl, "expression", None),
        "macros": sorted(dag.user_defined_macros or {}),
    }
    out["tasks"] = {
        t.task_id: {
            "type": type(t).__name__,
            "pool": t.pool,
            "retries": t.retries,
            "backoff": t.retry_exponential_backoff,
            "retry_delay": t.retry_delay.total_seconds(),
            "mode": getattr(t, "mode", None),
            "poke_interval": getattr(t, "poke_interval", None),
            "timeout": getattr(t, "timeout", None),
            "deferrable": getattr(t, "deferrable", None),
            "upstream": sorted(t.upstream_task_ids),
            "outlets": sorted(getattr(o, "uri", str(o)) for o in t.outlets),
            "op_args": [str(a) for a in getattr(t, "op_args", [])],
        }
        for t in dag.tasks
    }
out["heavy_modules"] = [m for m in json.loads(sys.argv[2]) if m in sys.modules]
print("@@" + json.dumps(out, default=str))
"""


def parse_dag(tmp_path: Path, **env: str) -> dict:
    """Parse the DAG file with Airflow's DagBag in a fresh process; its structure as a dict."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TRUST_DW_"))}
    environ.update(
        {
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "TRUST_DW_HOME": str(tmp_path / "dw"),
            "DO_NOT_TRACK": "1",
            "SCARF_ANALYTICS": "false",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            **env,
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", _PARSE, str(DAG_FILE), json.dumps(HEAVY_MODULES)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    marker = [line for line in done.stdout.splitlines() if line.startswith("@@")]
    assert done.returncode == 0 and marker, done.stderr[-3000:]
    return json.loads(marker[-1][2:])


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return parse_dag(tmp_path_factory.mktemp("dagbag"))


def test_dag_imports_without_errors_and_without_heavy_imports(parsed: dict) -> None:
    assert parsed["import_errors"] == {}
    assert "dag" in parsed
    # Parsing happens every few seconds in the dag-processor: dbt, GX, pandas are imported by tasks only.
    assert parsed["heavy_modules"] == []
    print(f"DAG file parse: {parsed['parse_seconds']:.2f} s")  # a figure, not an assertion


def test_schedule_is_daily_in_shanghai_one_run_at_a_time(parsed: dict) -> None:
    dag = parsed["dag"]
    assert dag["timetable"] == "CronDataIntervalTimetable"
    assert dag["cron"] == "0 0 * * *"
    assert dag["timezone"] == BUSINESS_TZ
    assert dag["max_active_runs"] == 1
    assert dag["catchup"] is False
    assert dag["macros"] == ["business_ds"]


def test_task_ids_and_order(parsed: dict) -> None:
    tasks = parsed["tasks"]
    expected = {f"wait_{f}" for f in FEED_NAMES} | {f"ingest_{f}" for f in FEED_NAMES}
    assert set(tasks) == expected | {"dbt_build", "validate", "publish"}
    for feed in FEED_NAMES:
        assert tasks[f"wait_{feed}"]["upstream"] == []
        assert tasks[f"ingest_{feed}"]["upstream"] == [f"wait_{feed}"]
        assert tasks[f"ingest_{feed}"]["op_args"][0] == feed
    assert tasks["dbt_build"]["upstream"] == sorted(f"ingest_{f}" for f in FEED_NAMES)
    assert tasks["validate"]["upstream"] == ["dbt_build"]
    assert tasks["publish"]["upstream"] == ["validate"]


def test_every_task_touching_the_working_file_is_in_the_writer_pool(parsed: dict) -> None:
    tasks = parsed["tasks"]
    pooled = {t for t, info in tasks.items() if info["pool"] == WRITER_POOL}
    assert pooled == {f"ingest_{f}" for f in FEED_NAMES} | {"dbt_build", "validate", "publish"}
    assert {tasks[f"wait_{f}"]["pool"] for f in FEED_NAMES} == {"default_pool"}


def test_retries_with_backoff_except_the_gate_and_dbt(parsed: dict) -> None:
    tasks = parsed["tasks"]
    policy = RunPolicy()  # the defaults: the subprocess had no TRUST_DW_* variables
    for task_id in [f"wait_{f}" for f in FEED_NAMES] + [f"ingest_{f}" for f in FEED_NAMES] + ["publish"]:
        assert tasks[task_id]["retries"] == policy.retries == 2, task_id
        assert tasks[task_id]["backoff"] == 2.0, task_id
        assert tasks[task_id]["retry_delay"] == policy.retry_delay_seconds, task_id
    assert tasks["validate"]["retries"] == 0  # a failed gate is a verdict: never retried
    assert tasks["dbt_build"]["retries"] == 0


def test_sensors_reschedule_with_default_timing(parsed: dict) -> None:
    for feed in FEED_NAMES:
        sensor = parsed["tasks"][f"wait_{feed}"]
        assert sensor["type"] == "DecoratedSensorOperator"
        assert sensor["mode"] == "reschedule"
        assert sensor["poke_interval"] == 300
        assert sensor["timeout"] == 6 * 3600


def test_sensor_timing_and_retries_come_from_the_environment(tmp_path: Path) -> None:
    parsed = parse_dag(
        tmp_path,
        TRUST_DW_SENSOR_POKE_SECONDS="7",
        TRUST_DW_SENSOR_TIMEOUT_SECONDS="120",
        TRUST_DW_TASK_RETRIES="5",
        TRUST_DW_CATCHUP="true",
    )
    sensor = parsed["tasks"]["wait_orders"]
    assert (sensor["poke_interval"], sensor["timeout"], sensor["retries"]) == (7, 120, 5)
    assert parsed["tasks"]["ingest_orders"]["retries"] == 5
    assert parsed["tasks"]["validate"]["retries"] == 0
    assert parsed["dag"]["catchup"] is True


def test_bad_policy_value_is_an_import_error_naming_the_variable(tmp_path: Path) -> None:
    parsed = parse_dag(tmp_path, TRUST_DW_SENSOR_POKE_SECONDS="five minutes")
    (error,) = parsed["import_errors"].values()
    assert "TRUST_DW_SENSOR_POKE_SECONDS" in error and "five minutes" in error


def test_publish_declares_one_asset_per_published_table(parsed: dict) -> None:
    tasks = parsed["tasks"]
    assert tasks["publish"]["outlets"] == sorted(asset_uri(t) for t in PUBLISHED_TABLES)
    assert all(info["outlets"] == [] for t, info in tasks.items() if t != "publish")


# --- the ds of a run ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logical_date", "ds"),
    [
        # a scheduled run: data interval [D 00:00, D+1 00:00) in Shanghai, logical date = its start
        (datetime(2026, 1, 1, 0, 0, tzinfo=UTC) - timedelta(hours=8), "2026-01-01"),
        # the same instant as Airflow stores it (UTC): still Jan 1st in Shanghai
        (datetime(2025, 12, 31, 16, 0, tzinfo=UTC), "2026-01-01"),
        # one second earlier is the previous business date
        (datetime(2025, 12, 31, 15, 59, 59, tzinfo=UTC), "2025-12-31"),
        # `airflow dags test <dag> 2026-01-01` with a UTC default time zone: 08:00 in Shanghai
        (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), "2026-01-01"),
    ],
)
def test_business_ds_is_the_logical_date_in_shanghai(logical_date: datetime, ds: str) -> None:
    assert business_ds(logical_date) == ds


def test_a_run_without_logical_date_processes_the_last_complete_day() -> None:
    # triggered "now" at 2026-01-05 09:30 in Shanghai → the last complete business date is Jan 4th
    assert business_ds(None, datetime(2026, 1, 5, 1, 30, tzinfo=UTC)) == "2026-01-04"
    # 2026-01-04 23:30 UTC is already Jan 5th 07:30 in Shanghai
    assert business_ds(None, datetime(2026, 1, 4, 23, 30, tzinfo=UTC)) == "2026-01-04"
    with pytest.raises(ValueError, match="logical date or a run_after"):
        business_ds(None, None)


def test_every_task_gets_the_business_ds_template(parsed: dict) -> None:
    for task_id, info in parsed["tasks"].items():
        assert "business_ds(logical_date, dag_run.run_after)" in info["op_args"][-1], task_id
