"""trust_dw.pipeline: stage order, stop at the first failure, the run policy, and `trust-dw run` on real data.

The whole pipeline (dbt, gate, publish) runs end to end in tests/test_airflow_e2e.py; here only the ingest
stage runs for real (cheap), the ordering is checked with plain functions.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from trust_dw import pipeline
from trust_dw.cli import app
from trust_dw.config import Settings
from trust_dw.feeds import FEED_NAMES
from trust_dw.generate import generate
from typer.testing import CliRunner

D = "2026-01-01"


def test_stages_run_in_pipeline_order_and_stop_at_the_first_failure(settings: Settings) -> None:
    calls: list[tuple[str, str]] = []

    def ok(name: str):
        return lambda s, ds: calls.append((name, ds)) or f"{name} done"

    def broken(s: Settings, ds: str):
        calls.append(("gate", ds))
        raise RuntimeError("expectation shop_scores_daily.score_in_range failed")

    stages = [
        pipeline.Stage("ingest", ok("ingest"), ""),
        pipeline.Stage("dbt", ok("dbt"), ""),
        pipeline.Stage("gate", broken, ""),
        pipeline.Stage("publish", ok("publish"), ""),
    ]
    seen = []
    run = pipeline.run_ds(settings, "2026-01-05", stages, on_stage=seen.append)
    assert calls == [("ingest", "2026-01-05"), ("dbt", "2026-01-05"), ("gate", "2026-01-05")]  # no publish
    assert [o.stage for o in run.outcomes] == ["ingest", "dbt", "gate"] == [o.stage for o in seen]
    assert not run.ok
    assert run.failed is not None and run.failed.stage == "gate"
    assert "score_in_range" in str(run.failed.error)
    assert run.outcomes[0].result == "ingest done"


def test_bad_ds_is_refused_before_any_stage(settings: Settings) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        pipeline.run_ds(settings, "2026-02-30", [pipeline.Stage("x", lambda s, d: pytest.fail("ran"), "")])


def test_select_stages_keeps_pipeline_order() -> None:
    assert [s.name for s in pipeline.select_stages(["publish", "ingest"])] == ["ingest", "publish"]
    assert pipeline.select_stages(None) == pipeline.STAGES
    assert [s.name for s in pipeline.STAGES] == ["ingest", "dbt", "gate", "publish"]
    with pytest.raises(ValueError, match="unknown stage"):
        pipeline.select_stages(["deploy"])


def test_run_policy_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRUST_DW_SENSOR_POKE_SECONDS", "TRUST_DW_TASK_RETRIES", "TRUST_DW_DBT_TASKS"):
        monkeypatch.delenv(name, raising=False)
    default = pipeline.RunPolicy.from_env()
    assert default == pipeline.RunPolicy()
    assert default.retry_args()["retry_delay"] == timedelta(minutes=1)
    assert default.sensor_args()["mode"] == "reschedule"
    monkeypatch.setenv("TRUST_DW_SENSOR_POKE_SECONDS", "30")
    monkeypatch.setenv("TRUST_DW_TASK_RETRIES", "0")
    monkeypatch.setenv("TRUST_DW_DBT_TASKS", "watcher")
    policy = pipeline.RunPolicy.from_env()
    assert (policy.sensor_poke_seconds, policy.retries, policy.dbt_tasks) == (30, 0, "watcher")
    monkeypatch.setenv("TRUST_DW_TASK_RETRIES", "-1")
    with pytest.raises(ValueError, match="TRUST_DW_TASK_RETRIES"):
        pipeline.RunPolicy.from_env()
    monkeypatch.setenv("TRUST_DW_TASK_RETRIES", "1")
    monkeypatch.setenv("TRUST_DW_DBT_TASKS", "cosmos")
    with pytest.raises(ValueError, match="TRUST_DW_DBT_TASKS must be one of single, watcher"):
        pipeline.RunPolicy.from_env()


def test_trust_dw_run_ingest_stage_on_generated_data(settings: Settings) -> None:
    generate(settings, "tiny", D, 1, seed=3, faults="malformed")
    result = CliRunner().invoke(app, ["run", "--ds", D, "--stage", "ingest"])
    assert result.exit_code == 0, result.output
    assert f"trust-dw run ds={D}" in result.output
    assert "✓ ingest" in result.output
    for feed in FEED_NAMES:
        assert feed in result.output
    assert pipeline.feed_ready(settings, "orders", D)


def test_trust_dw_run_fails_naming_the_missing_drop(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["run", "--ds", "2030-01-01", "--stage", "ingest"])
    assert result.exit_code == 1
    assert "✗ ingest" in result.output
    assert "orders/ds=2030-01-01" in result.output.replace("\n", "")
    assert "not complete, nothing loaded" in result.output
