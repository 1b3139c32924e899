"""``trust-dw backfill --start D1 --end D2``: every business date of a range, oldest first, stop at a failure.

In-process (default) each ds is :func:`trust_dw.pipeline.run_ds` — exactly ``trust-dw run --ds`` — under the
run id ``backfill__<ds>__<time>`` in the run ledger; ``--through-airflow`` runs the real DAG for each ds
with the local harness (``airflow dags test``, :mod:`trust_dw.airflow_local`). Dates run in order because
the SCD2 snapshots and incremental marts of a ds build on the previous ones; each ds is idempotent, so a
backfill over already-built dates rewrites them byte-identically. The first failed ds stops the backfill:
later dates are not run (they would build on a hole) and are named in the message.
With a scheduler (docker-compose), ``airflow backfill create`` does the same through Airflow
(docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console

from trust_dw import pipeline
from trust_dw.config import Settings

console = Console()


def date_range(start: str, end: str) -> list[str]:
    """Every ds from start to end, both included, oldest first; a clear error for a reversed range."""
    first, last = date.fromisoformat(pipeline.check_ds(start)), date.fromisoformat(pipeline.check_ds(end))
    if last < first:
        raise ValueError(f"--end {last} is before --start {first}")
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


@dataclass
class DsOutcome:
    ds: str
    ok: bool
    seconds: float
    run_id: str | None
    failed_stage: str | None = None
    error: str | None = None
    detail: Any = None  # the PipelineRun or the DagRunOutcome


@dataclass
class BackfillResult:
    dates: list[str]
    done: list[DsOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return len(self.done) == len(self.dates) and all(o.ok for o in self.done)

    @property
    def not_run(self) -> list[str]:
        return self.dates[len(self.done) :]

    def message(self) -> str:
        if self.ok:
            return f"backfill {self.dates[0]}…{self.dates[-1]}: {len(self.dates)} date(s) done"
        failed = self.done[-1]
        left = ", ".join(self.not_run) or "none"
        return (
            f"backfill stopped at ds={failed.ds}: {failed.failed_stage} failed: {failed.error}\n"
            f"dates done: {len(self.done) - 1}; not run: {left}. "
            f"Fix the cause, then run again from --start {failed.ds}."
        )


def _in_process(settings: Settings, ds: str, stages: Sequence[pipeline.Stage]) -> DsOutcome:
    from trust_dw.run_ledger import new_run_id

    run = pipeline.run_ds(settings, ds, stages, run_id=new_run_id("backfill", ds), trigger="backfill")
    failed = run.failed
    return DsOutcome(
        ds=ds,
        ok=run.ok,
        seconds=sum(o.seconds for o in run.outcomes),
        run_id=run.run_id,
        failed_stage=failed.stage if failed else None,
        error=str(failed.error) if failed else None,
        detail=run,
    )


def _through_airflow(airflow: Any, ds: str) -> DsOutcome:
    outcome = airflow.run_dag(ds)
    failed = outcome.tasks_in("failed")
    return DsOutcome(
        ds=ds,
        ok=outcome.ok,
        seconds=outcome.seconds,
        run_id=outcome.run_id,
        failed_stage=", ".join(failed) or (None if outcome.ok else f"DAG run {outcome.state}"),
        error=None if outcome.ok else f"see {outcome.log_path}",
        detail=outcome,
    )


def backfill(
    settings: Settings,
    start: str,
    end: str,
    *,
    through_airflow: bool = False,
    stages: Sequence[pipeline.Stage] = pipeline.STAGES,
    on_ds: Callable[[DsOutcome], None] | None = None,
) -> BackfillResult:
    """Run every ds of [start, end] in date order; stop at the first ds that fails."""
    result = BackfillResult(dates=date_range(start, end))
    airflow = None
    if through_airflow:
        from trust_dw.airflow_local import LocalAirflow

        airflow = LocalAirflow(settings)
        airflow.init()
    for ds in result.dates:
        outcome = _through_airflow(airflow, ds) if airflow else _in_process(settings, ds, stages)
        result.done.append(outcome)
        if on_ds is not None:
            on_ds(outcome)
        if not outcome.ok:
            break
    return result


def _line(outcome: DsOutcome) -> None:
    mark = "[green]✓[/]" if outcome.ok else "[bold red]✗[/]"
    what = "done" if outcome.ok else f"{outcome.failed_stage} failed"
    console.print(
        f"{mark} ds={outcome.ds} {what} in {outcome.seconds:.1f} s (run {outcome.run_id})", highlight=False
    )


def command(
    start: Annotated[str, typer.Option("--start", help="First business date YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--end", help="Last business date YYYY-MM-DD (included).")],
    through_airflow: Annotated[
        bool,
        typer.Option("--through-airflow", help="Run the real DAG per ds (local harness: airflow dags test)."),
    ] = False,
) -> None:
    """Run every business date from --start to --end, oldest first: ingest → dbt → gate → publish each.

    Each ds is exactly `trust-dw run --ds` (or, with --through-airflow, the DAG through Airflow), recorded
    in the run ledger. Stops at the first failed ds and exits 1, naming the stage, the error and the dates
    not run.
    """
    try:
        dates = date_range(start, end)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = Settings.from_env()
    settings.ensure_dirs()
    how = "through Airflow (airflow dags test)" if through_airflow else "in-process"
    console.print(
        f"[bold]trust-dw backfill[/] {dates[0]}…{dates[-1]} ({len(dates)} dates, {how}) home={settings.home}",
        highlight=False,
    )
    result = backfill(settings, dates[0], dates[-1], through_airflow=through_airflow, on_ds=_line)
    if not result.ok:
        for line in result.message().splitlines():
            console.print(f"[bold red]error[/] {line}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    console.print(result.message(), highlight=False)
