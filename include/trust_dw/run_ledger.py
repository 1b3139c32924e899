"""The run ledger: one record per stage run (``ops.stage_runs``) and per pipeline run (``ops.pipeline_runs``).

Where it lives (docs/operations.md):

- **The truth is a folder of small JSON files**, ``exports/_ops/stage_runs/ds=<ds>/<ended>-<uuid>.json``,
  one record each, written to a temp name and renamed into place. Appending needs no lock and no open
  database, so every recorder can write at any time: ``trust-dw run`` / ``trust-dw backfill``
  (:func:`trust_dw.pipeline.run_ds`), each Airflow task (:func:`airflow_stage`) and the failure callback of
  a task that cannot record itself (a sensor that timed out).
- **The serving file** (rebuilt by every publish) holds the views ``ops.stage_runs`` and
  ``ops.pipeline_runs`` over that folder (:func:`serving_views`). The views read the files when queried,
  so a run that failed after the last publish is visible to BI at once.
- **The working file** gets the same rows in ``ops.stage_runs`` (plus the view ``ops.pipeline_runs``),
  inserted by recorders that hold the writer role (the stage's own process, after the stage, inside the
  run lock or the ``duckdb_writer`` pool), so the daily report shows stage timings. It is a copy: a record
  that could not be inserted (file busy) is still in the folder, and :func:`sync_working_file` reloads the
  table from the folder.

``ops.pipeline_runs`` is derived, never written: per run id, the last attempt of each stage decides —
``failed`` if one failed, ``success`` if publish succeeded, else ``incomplete`` (running, or stages run
alone with ``--stage``).
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trust_dw.config import Settings

log = logging.getLogger(__name__)

OPS_DIR = "_ops"
STAGE_RUNS = "stage_runs"
ERROR_CHARS = 2000

# The record's columns and their SQL types: the JSON files, the working-file table and the serving views
# all use exactly these (explicit types: readers of other DuckDB versions infer JSON differently).
COLUMNS: dict[str, str] = {
    "run_id": "VARCHAR",
    "ds": "DATE",
    "trigger": "VARCHAR",  # cli | backfill | airflow
    "stage": "VARCHAR",  # ingest | dbt | gate | publish | wait | lock
    "feed": "VARCHAR",  # per-feed Airflow tasks (ingest_<feed>, wait_<feed>); NULL otherwise
    "task_id": "VARCHAR",  # the Airflow task id; NULL outside Airflow
    "attempt": "INTEGER",  # Airflow try number; 1 outside Airflow
    "status": "VARCHAR",  # success | failed
    "started_at": "TIMESTAMPTZ",
    "ended_at": "TIMESTAMPTZ",
    "seconds": "DOUBLE",
    "rows_in": "BIGINT",  # ingest: rows read; gate: candidate rows checked; publish: candidate rows
    "rows_out": "BIGINT",  # ingest: rows loaded; publish: rows published; dbt: NULL
    "rows_quarantined": "BIGINT",  # ingest only
    "gate_result": "VARCHAR",  # gate only: passed | failed
    "published": "BOOLEAN",  # publish succeeded
    "detail": "VARCHAR",  # dbt node statuses, failed expectations, ...
    "error": "VARCHAR",  # the failure's message (first 2,000 characters)
}


@dataclass
class StageRecord:
    run_id: str
    ds: str
    trigger: str
    stage: str
    status: str
    started_at: str
    ended_at: str
    seconds: float
    feed: str | None = None
    task_id: str | None = None
    attempt: int = 1
    rows_in: int | None = None
    rows_out: int | None = None
    rows_quarantined: int | None = None
    gate_result: str | None = None
    published: bool = False
    detail: str | None = None
    error: str | None = None


def ledger_dir(settings: Settings) -> Path:
    return settings.exports_dir / OPS_DIR / STAGE_RUNS


def new_run_id(trigger: str, ds: str) -> str:
    """A run id for a run outside Airflow, e.g. ``cli__2026-01-03__20260104T010203_1a2b3c``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{trigger}__{ds}__{stamp}_{uuid.uuid4().hex[:6]}"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


# --- what a stage's result or error says -----------------------------------------------------------


def _sum(items: list[Any], attr: str) -> int:
    return sum(int(getattr(i, attr, 0) or 0) for i in items)


def measures(stage: str, result: Any = None, error: BaseException | None = None) -> dict[str, Any]:
    """Counts of a stage from its result (or from the result its exception carries)."""
    if error is not None:
        result = getattr(error, "results", None) or getattr(error, "result", None)
    out: dict[str, Any] = {}
    if result is None:
        return out
    if stage == "ingest":
        loads = result if isinstance(result, list | tuple) else [result]
        loads = [r for r in loads if hasattr(r, "rows_read")]
        if loads:
            out.update(
                rows_in=_sum(loads, "rows_read"),
                rows_out=_sum(loads, "rows_loaded"),
                rows_quarantined=_sum(loads, "rows_quarantined"),
            )
            failed = [f"{r.feed}: {r.status}" for r in loads if r.status not in ("loaded", "unchanged")]
            out["detail"] = "; ".join(failed) or None
    elif stage == "dbt" and hasattr(result, "node_statuses"):
        counts: dict[str, int] = {}
        for status in result.node_statuses.values():
            counts[status] = counts.get(status, 0) + 1
        parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        out["detail"] = f"{len(result.node_statuses)} nodes: {parts}"
    elif stage == "gate" and hasattr(result, "passed"):
        out["gate_result"] = "passed" if result.passed else "failed"
        rows = [f.get("rows") for f in (getattr(result, "fingerprints", None) or {}).values()]
        if rows and all(isinstance(r, int) for r in rows):
            out["rows_in"] = sum(rows)
        names = list(result.failed) or [f"warning {w}" for w in result.warnings]
        out["detail"] = ", ".join(names) or None
    elif stage == "publish" and hasattr(result, "partitions"):
        rows = sum(p.rows for p in result.partitions)
        out.update(rows_in=rows, rows_out=rows, published=True)
        out["detail"] = ", ".join(f"{p.table}={p.rows}" for p in result.partitions)
    return out


# --- writing ----------------------------------------------------------------------------------------


def write_record(settings: Settings, record: StageRecord, *, working_file: bool = True) -> Path:
    """Append one record: its JSON file (always), then the working file's ``ops.stage_runs`` (if asked).

    ``working_file=True`` only where the caller may write the working file (it holds the run lock or runs in
    the ``duckdb_writer`` pool); a busy or broken working file is logged, never raised: the JSON file is the
    record.
    """
    folder = ledger_dir(settings) / f"ds={record.ds}"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = record.ended_at.replace(":", "").replace("-", "").replace("+", "Z")[:22]
    path = folder / f"{stamp}-{uuid.uuid4().hex[:12]}.json"
    tmp = folder / f".{path.name}.tmp"
    tmp.write_text(json.dumps(asdict(record), sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    if working_file:
        try:
            _insert_working(settings, path)
        except Exception as exc:  # the ledger must never fail the pipeline; the JSON file holds the row
            log.warning("run ledger: %s not copied into the working file (%s)", path.name, exc)
    return path


def record(
    settings: Settings,
    *,
    run_id: str,
    ds: str,
    trigger: str,
    stage: str,
    started_at: str,
    seconds: float,
    result: Any = None,
    error: BaseException | None = None,
    working_file: bool = True,
    **extra: Any,
) -> StageRecord:
    """Build the record of one stage run from its result or error and write it."""
    rec = StageRecord(
        run_id=run_id,
        ds=ds,
        trigger=trigger,
        stage=stage,
        status="failed" if error is not None else "success",
        started_at=started_at,
        ended_at=utc_now(),
        seconds=round(seconds, 3),
        error=f"{type(error).__name__}: {error}"[:ERROR_CHARS] if error is not None else None,
        **extra,
    )
    for key, value in measures(stage, result, error).items():
        setattr(rec, key, value)
    write_record(settings, rec, working_file=working_file)
    return rec


@contextmanager
def _working(settings: Settings) -> Iterator[Any]:
    from trust_dw.warehouse import connect

    con = connect(settings)
    try:
        yield con
    finally:
        con.close()


def _table_ddl() -> str:
    cols = ", ".join(f"{name} {sql_type}" for name, sql_type in COLUMNS.items())
    return f"create table if not exists ops.stage_runs ({cols}, record_file varchar)"


def _read_json_sql(glob: str) -> str:
    columns = ", ".join(f"{name}: '{sql_type}'" for name, sql_type in COLUMNS.items())
    return (
        f"select {', '.join(COLUMNS)} from read_json({_literal(glob)}, format = 'newline_delimited', "
        f"columns = {{{columns}}}, filename = true)"
    )


def _prepare(con: Any) -> None:
    con.execute("create schema if not exists ops")
    con.execute(_table_ddl())
    con.execute(f"create or replace view ops.pipeline_runs as {pipeline_runs_sql('ops.stage_runs')}")


def _insert_working(settings: Settings, path: Path) -> None:
    with _working(settings) as con:
        _prepare(con)
        con.execute(
            f"insert into ops.stage_runs select *, {_literal(path.name)} from ({_read_json_sql(str(path))})"
        )


def sync_working_file(settings: Settings) -> int:
    """Reload ``ops.stage_runs`` of the working file from the ledger folder; returns its row count."""
    files = sorted(ledger_dir(settings).glob("ds=*/*.json"))
    with _working(settings) as con:
        _prepare(con)
        con.execute("delete from ops.stage_runs")
        if files:
            glob = str(ledger_dir(settings) / "ds=*" / "*.json")
            con.execute(
                f"insert into ops.stage_runs select {', '.join(COLUMNS)}, parse_filename(filename) "
                f"from read_json({_literal(glob)}, format = 'newline_delimited', "
                f"columns = {{{', '.join(f'{n}: {_literal(t)}' for n, t in COLUMNS.items())}}}, "
                "filename = true)"
            )
        return con.execute("select count(*) from ops.stage_runs").fetchone()[0]


# --- recording a stage ---------------------------------------------------------------------------------


def run_recorded(
    settings: Settings,
    ds: str,
    stage: str,
    call: Callable[[], Any],
    *,
    run_id: str,
    trigger: str,
    feed: str | None = None,
    task_id: str | None = None,
    attempt: int = 1,
) -> Any:
    """Run ``call()`` (one stage), record its outcome, and return its result or re-raise its exception."""
    started_at, started = utc_now(), time.perf_counter()
    common = dict(run_id=run_id, ds=ds, trigger=trigger, stage=stage, started_at=started_at)
    ids = dict(feed=feed, task_id=task_id, attempt=attempt)
    try:
        result = call()
    except Exception as exc:
        record(settings, seconds=time.perf_counter() - started, error=exc, **common, **ids)
        raise
    record(settings, seconds=time.perf_counter() - started, result=result, **common, **ids)
    return result


def airflow_stage(settings: Settings, stage: str, fn: Callable[..., Any], *, ds: str, **kwargs: Any) -> Any:
    """``fn(settings, ds=ds, **kwargs)`` inside an Airflow task, recorded by :func:`run_recorded` with the
    run id, task id and try number of the task's context (``feed`` in kwargs is recorded too)."""
    from airflow.sdk import get_current_context

    context = get_current_context()
    ti = context["ti"]
    return run_recorded(
        settings,
        ds,
        stage,
        lambda: fn(settings, ds=ds, **kwargs),
        run_id=context["run_id"],
        trigger="airflow",
        feed=kwargs.get("feed"),
        task_id=ti.task_id,
        attempt=int(getattr(ti, "try_number", 1) or 1),
    )


# Airflow tasks that record themselves (through airflow_stage); the failure callback records the others.
SELF_RECORDING_TASKS = ("ingest_", "dbt_build", "validate", "publish")


def stage_of_task(task_id: str) -> tuple[str, str | None]:
    """(stage, feed) of an Airflow task id: ``wait_orders`` → (wait, orders), ``dbt.x`` → (dbt, None)."""
    from trust_dw.feeds import FEED_NAMES

    for prefix in ("wait_", "ingest_"):
        feed = task_id.removeprefix(prefix)
        if task_id.startswith(prefix) and feed in FEED_NAMES:
            return prefix.rstrip("_"), feed
    if task_id.startswith("dbt"):
        return "dbt", None
    return {"validate": "gate"}.get(task_id, task_id), None


def records_itself(task_id: str) -> bool:
    return task_id.startswith(SELF_RECORDING_TASKS[0]) or task_id in SELF_RECORDING_TASKS[1:]


# --- reading -------------------------------------------------------------------------------------------


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def pipeline_runs_sql(stage_runs: str) -> str:
    """``ops.pipeline_runs`` over a relation holding the stage records."""
    return f"""
        with attempts as (
            select
                *,
                row_number() over (
                    partition by run_id, stage, coalesce(feed, '')
                    order by ended_at desc, attempt desc
                ) as attempt_rank
            from {stage_runs}
        ),

        last_attempts as (
            select * from attempts where attempt_rank = 1
        )

        select
            run_id,
            ds,
            min(trigger) as trigger,
            min(started_at) as started_at,
            max(ended_at) as ended_at,
            round(sum(seconds), 3) as stage_seconds,
            case
                when bool_or(status = 'failed') then 'failed'
                when bool_or(stage = 'publish' and status = 'success') then 'success'
                else 'incomplete'
            end as status,
            arg_min(stage, started_at) filter (where status = 'failed') as failed_stage,
            arg_min(error, started_at) filter (where status = 'failed') as error,
            cast(sum(rows_in) filter (where stage = 'ingest') as bigint) as rows_read,
            cast(sum(rows_out) filter (where stage = 'ingest') as bigint) as rows_loaded,
            cast(sum(rows_quarantined) filter (where stage = 'ingest') as bigint)
                as rows_quarantined,
            max(gate_result) filter (where stage = 'gate') as gate_result,
            coalesce(bool_or(published), false) as published,
            cast(sum(rows_out) filter (where stage = 'publish') as bigint) as rows_published,
            count(*) as stage_runs
        from last_attempts
        group by run_id, ds
    """


def serving_views(settings: Settings) -> dict[str, str]:
    """The ledger's views of the serving file (none while the ledger is empty: a glob must match)."""
    folder = ledger_dir(settings).resolve()
    if not any(folder.glob("ds=*/*.json")):
        return {}
    stage_runs = _read_json_sql(str(folder / "ds=*" / "*.json"))
    return {
        "ops.stage_runs": stage_runs,
        "ops.pipeline_runs": pipeline_runs_sql(f"({stage_runs})"),
    }


def _query_ledger(
    settings: Settings, view: str, tail: str, params: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Rows of one ledger view (``ops.pipeline_runs`` / ``ops.stage_runs``) as dicts, read from the folder."""
    import duckdb

    views = serving_views(settings)
    if not views:
        return []
    con = duckdb.connect(config={"threads": 1})
    try:
        con.execute("set TimeZone = 'UTC'")
        cursor = con.execute(f"select * from ({views[view]}) {tail}", params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def last_runs(settings: Settings, *, ds: str | None = None, limit: int = 7) -> list[dict[str, Any]]:
    """The newest pipeline runs (of ds, if given), newest first, read from the ledger folder."""
    where = "where ds = cast($ds as date)" if ds else ""
    tail = f"{where} order by ended_at desc limit {int(limit)}"
    return _query_ledger(settings, "ops.pipeline_runs", tail, {"ds": ds} if ds else None)


def stage_runs_of(settings: Settings, run_id: str) -> list[dict[str, Any]]:
    """Every stage record of one run, in the order they started."""
    tail = "where run_id = $run_id order by started_at, stage"
    return _query_ledger(settings, "ops.stage_runs", tail, {"run_id": run_id})


def runs_table(settings: Settings, *, ds: str | None = None, limit: int = 7):
    """The last pipeline runs as a rich table (``trust-dw status``)."""
    from rich.table import Table

    runs = last_runs(settings, ds=ds, limit=limit)
    scope = f"ds={ds}" if ds else f"last {limit}"
    table = Table(title=f"pipeline runs ({scope}) — run ledger {ledger_dir(settings)}", title_justify="left")
    for name in (
        "ds",
        "run id",
        "trigger",
        "ended (UTC)",
        "status",
        "stage s",
        "read",
        "quar.",
        "gate",
        "pub.",
    ):
        table.add_column(name, justify="right" if name in ("stage s", "read", "quar.") else "left")
    style = {"success": "green", "failed": "bold red", "incomplete": "yellow"}
    for run in runs:
        status = run["status"] + (f" at {run['failed_stage']}" if run["failed_stage"] else "")
        table.add_row(
            str(run["ds"]),
            run["run_id"],
            run["trigger"],
            run["ended_at"].strftime("%Y-%m-%d %H:%M:%S"),
            f"[{style.get(run['status'], '')}]{status}[/]",
            f"{run['stage_seconds']:.1f}",
            f"{run['rows_read']:,}" if run["rows_read"] is not None else "-",
            f"{run['rows_quarantined']:,}" if run["rows_quarantined"] is not None else "-",
            run["gate_result"] or "-",
            "yes" if run["published"] else "no",
        )
    if not runs:
        table.caption = "no pipeline run recorded yet"
    return table
