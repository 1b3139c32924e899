"""The ordered stages of one business date (ds), shared by ``trust-dw run`` and the Airflow DAG.

ingest every feed → dbt build → quality gate → publish. Each stage is one function of its own module
(``trust_dw.ingest``, ``trust_dw.dbt_runner``, ``trust_dw.quality``, ``trust_dw.publish``); this module
only puts them in order, times them and stops at the first failure. It records nothing the stages don't:
the load ledger, dbt's artefacts, the gate verdict and the manifests are written by the stages.

It also holds the two scheduling rules the DAG needs and that are not Airflow's business to know:
which ds a DAG run processes (:func:`business_ds`) and the retry/sensor policy read from the environment
(:class:`RunPolicy`). Heavy libraries (duckdb, pyarrow, dbt, GX) are imported inside the stage functions,
so the DAG file can import this module at parse time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from trust_dw.config import Settings
from trust_dw.runlock import RunLocked, run_lock

# DESIGN §2: ds is the business date in Asia/Shanghai.
BUSINESS_TZ = "Asia/Shanghai"

# The Airflow pool that serialises every task writing the working DuckDB file (DESIGN §11).
WRITER_POOL = "duckdb_writer"


# --- which ds a run processes ---------------------------------------------------------------------------


def business_ds(logical_date: datetime | None, run_after: datetime | None = None) -> str:
    """The ds (``YYYY-MM-DD``) a DAG run processes.

    A scheduled run of ``trust_commerce_daily`` has the data interval ``[D 00:00, D+1 00:00)`` in
    Asia/Shanghai and its logical date is the interval's start, so ds = the logical date's calendar date
    in Asia/Shanghai. ``airflow dags test <dag> D`` and ``airflow backfill create`` give the same mapping.
    A run without a logical date (triggered "now") processes the last complete business date: the day
    before ``run_after`` in Asia/Shanghai.
    """
    tz = ZoneInfo(BUSINESS_TZ)
    if logical_date is not None:
        return logical_date.astimezone(tz).date().isoformat()
    if run_after is None:
        raise ValueError("a DAG run needs a logical date or a run_after time to have a ds")
    return (run_after.astimezone(tz).date() - timedelta(days=1)).isoformat()


def check_ds(ds: str | date) -> str:
    """``ds`` as ``YYYY-MM-DD``; a clear error for anything else."""
    if isinstance(ds, date):
        return ds.isoformat()
    try:
        return date.fromisoformat(ds).isoformat()
    except ValueError:
        raise ValueError(f"ds must be a date YYYY-MM-DD, got {ds!r}") from None


# --- the retry and sensor policy of the DAG ------------------------------------------------------------


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number of seconds/tries, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be ≥ 0, got {value}")
    return value


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, "") or default
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


# How the DAG runs dbt: "single" (default) = one task running trust_dw.dbt_runner.build, as `trust-dw run`;
# "watcher" = Cosmos watcher mode: the same one `dbt build` plus one Airflow task per dbt node, visible in
# the UI, at a measured cost (docs/airflow.md).
DBT_TASK_MODES = ("single", "watcher")


@dataclass(frozen=True)
class RunPolicy:
    """Sensor timing and retries of the DAG's tasks, from ``TRUST_DW_*`` environment variables.

    Defaults suit production: a feed's drop is awaited for 6 h, poked every 5 min in reschedule mode
    (no worker slot held while waiting); sensors, ingest and publish retry twice with exponential backoff
    (1 min, 2 min, … capped at 30 min); the quality gate never retries (a failed check is a verdict, not
    an accident). ``catchup`` is off: history is replayed on purpose (``airflow backfill create``) or by
    ``TRUST_DW_CATCHUP=true``. The local harness (``trust_dw.airflow_local``) shortens the waits.
    """

    sensor_poke_seconds: int = 300
    sensor_timeout_seconds: int = 6 * 3600
    retries: int = 2
    retry_delay_seconds: int = 60
    max_retry_delay_seconds: int = 1800
    dbt_poke_seconds: int = 10
    dbt_timeout_seconds: int = 2 * 3600
    dbt_tasks: str = "single"
    catchup: bool = False

    @classmethod
    def from_env(cls) -> RunPolicy:
        d = cls()
        return cls(
            sensor_poke_seconds=_env_int("TRUST_DW_SENSOR_POKE_SECONDS", d.sensor_poke_seconds),
            sensor_timeout_seconds=_env_int("TRUST_DW_SENSOR_TIMEOUT_SECONDS", d.sensor_timeout_seconds),
            retries=_env_int("TRUST_DW_TASK_RETRIES", d.retries),
            retry_delay_seconds=_env_int("TRUST_DW_RETRY_DELAY_SECONDS", d.retry_delay_seconds),
            max_retry_delay_seconds=_env_int("TRUST_DW_MAX_RETRY_DELAY_SECONDS", d.max_retry_delay_seconds),
            dbt_poke_seconds=_env_int("TRUST_DW_DBT_POKE_SECONDS", d.dbt_poke_seconds),
            dbt_timeout_seconds=_env_int("TRUST_DW_DBT_TIMEOUT_SECONDS", d.dbt_timeout_seconds),
            dbt_tasks=_env_choice("TRUST_DW_DBT_TASKS", d.dbt_tasks, DBT_TASK_MODES),
            catchup=_env_choice("TRUST_DW_CATCHUP", str(d.catchup).lower(), ("false", "true")) == "true",
        )

    def retry_args(self) -> dict[str, Any]:
        """Task arguments for the tasks that retry (sensors, ingest, publish)."""
        return {
            "retries": self.retries,
            "retry_delay": timedelta(seconds=self.retry_delay_seconds),
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": timedelta(seconds=self.max_retry_delay_seconds),
        }

    def sensor_args(self) -> dict[str, Any]:
        return {
            "mode": "reschedule",
            "poke_interval": self.sensor_poke_seconds,
            "timeout": self.sensor_timeout_seconds,
            **self.retry_args(),
        }


# --- the stages ------------------------------------------------------------------------------------------


def feed_ready(settings: Settings, feed: str, ds: str) -> bool:
    """Sensor condition: the (feed, ds) landing folder holds ``_SUCCESS``."""
    from trust_dw.ingest import feed_ready as ready

    return ready(settings, feed, check_ds(ds))


def ingest_feed(settings: Settings, feed: str, ds: str):
    """Load one feed's drop for ds (raises on a file-level fault, naming the file)."""
    from trust_dw.ingest import ingest_feed as load

    return load(settings, feed, check_ds(ds))


def ingest_all(settings: Settings, ds: str):
    """Load every feed's drop for ds; raises ``IngestBatchError`` naming each feed that failed."""
    from trust_dw.ingest import ingest_ds

    return ingest_ds(settings, check_ds(ds))


def build_models(settings: Settings, ds: str):
    """``dbt build`` for ds (seeds, snapshots, models, tests); raises ``DbtError`` naming failed nodes."""
    from trust_dw.dbt_runner import build

    return build(settings, check_ds(ds))


def validate(settings: Settings, ds: str):
    """The Great Expectations gate; raises ``GateFailed`` naming the failed expectations."""
    from trust_dw.quality import validate as run_gate

    return run_gate(settings, check_ds(ds))


def publish(settings: Settings, ds: str, run_id: str | None = None):
    """Write–audit–publish of ds (only after the gate passed on exactly these candidates)."""
    from trust_dw.publish import publish as run_publish

    return run_publish(settings, check_ds(ds), run_id=run_id)


def dbt_summary(result: Any) -> dict[str, Any]:
    """A ``DbtRunResult`` as a small JSON-able dict (the dbt task's XCom): node count per status."""
    counts: dict[str, int] = {}
    for status in result.node_statuses.values():
        counts[status] = counts.get(status, 0) + 1
    return {"ds": result.ds, "nodes": len(result.node_statuses), "statuses": dict(sorted(counts.items()))}


def gate_summary(gate: Any) -> dict[str, Any]:
    """A passed ``GateResult`` as a small JSON-able dict (the validate task's XCom)."""
    return {
        "ds": gate.ds,
        "passed": gate.passed,
        "expectations": len(gate.checks),
        "warnings": list(gate.warnings),
        "data_docs": str(gate.data_docs),
    }


def load_summary(result: Any) -> dict[str, Any]:
    """A ``LoadResult`` as a small JSON-able dict (the ingest task's XCom)."""
    return {
        "feed": result.feed,
        "ds": str(result.ds),
        "status": result.status,
        "files": result.files,
        "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_quarantined": result.rows_quarantined,
        "quarantine_share": result.quarantine_share,
        "drift_columns": list(result.drift_columns),
    }


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[Settings, str], Any]
    what: str


STAGES: tuple[Stage, ...] = (
    Stage("ingest", ingest_all, "load every feed's landing drop (quarantine bad rows, ledger)"),
    Stage("dbt", build_models, "dbt build: staging, snapshots, facts, aggregates, scores, tiers, flow"),
    Stage("gate", validate, "Great Expectations gate on the candidate tables"),
    Stage("publish", publish, "Parquet snapshots, manifests, LATEST, serving file"),
)
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)


@dataclass
class StageOutcome:
    stage: str
    ok: bool
    seconds: float
    result: Any = None
    error: BaseException | None = None


@dataclass
class PipelineRun:
    ds: str
    run_id: str = ""
    outcomes: list[StageOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def failed(self) -> StageOutcome | None:
        return next((o for o in self.outcomes if not o.ok), None)


def select_stages(names: Sequence[str] | None) -> tuple[Stage, ...]:
    """The stages named (kept in pipeline order), or all of them."""
    if not names:
        return STAGES
    unknown = sorted(set(names) - set(STAGE_NAMES))
    if unknown:
        raise ValueError(f"unknown stage(s) {', '.join(unknown)}; stages are: {', '.join(STAGE_NAMES)}")
    return tuple(s for s in STAGES if s.name in names)


def run_ds(
    settings: Settings,
    ds: str,
    stages: Sequence[Stage] = STAGES,
    on_stage: Callable[[StageOutcome], None] | None = None,
    *,
    run_id: str | None = None,
    trigger: str = "cli",
) -> PipelineRun:
    """Run ``stages`` for ds in order, in this process; stop at the first stage that raises.

    Returns the :class:`PipelineRun` (every outcome, the failing one with its exception); never swallows
    a failure silently — check ``run.ok``. ``on_stage`` is called after each stage (for live output).
    The whole run holds the home's run lock (:mod:`trust_dw.runlock`): while another run holds it, nothing
    runs and the only outcome is a failed ``lock`` step whose error names the other run.
    Each outcome is recorded in the run ledger (:mod:`trust_dw.run_ledger`, under ``run_id``, default a new
    ``<trigger>__<ds>__<time>`` id); a failed run also writes an alert (:mod:`trust_dw.alerts`).
    """
    from trust_dw import alerts, run_ledger

    run = PipelineRun(ds=check_ds(ds), run_id=run_id or run_ledger.new_run_id(trigger, check_ds(ds)))

    def keep(outcome: StageOutcome, started_at: str, holds_lock: bool) -> None:
        run.outcomes.append(outcome)
        run_ledger.record(
            settings,
            run_id=run.run_id,
            ds=run.ds,
            trigger=trigger,
            stage=outcome.stage,
            started_at=started_at,
            seconds=outcome.seconds,
            result=outcome.result,
            error=outcome.error,
            working_file=holds_lock,  # without the lock another run may be writing the working file
        )
        if on_stage is not None:
            on_stage(outcome)

    with ExitStack() as held:
        try:  # one run per TRUST_DW_HOME at a time; a second one stops here, naming the first
            held.enter_context(run_lock(settings, run.ds))
        except RunLocked as exc:
            stages = ()
            keep(StageOutcome("lock", False, 0.0, error=exc), run_ledger.utc_now(), holds_lock=False)
        for stage in stages:
            started_at, started = run_ledger.utc_now(), time.perf_counter()
            try:
                result = stage.run(settings, run.ds)
            except Exception as exc:  # the stage's own exception names the fault; it is kept, not hidden
                outcome = StageOutcome(stage.name, False, time.perf_counter() - started, error=exc)
            else:
                outcome = StageOutcome(stage.name, True, time.perf_counter() - started, result=result)
            keep(outcome, started_at, holds_lock=True)
            if not outcome.ok:
                break
    if run.failed is not None:
        alerts.alert_failed_run(
            settings,
            ds=run.ds,
            run_id=run.run_id,
            trigger=trigger,
            stage=run.failed.stage,
            error=run.failed.error,
        )
    return run
