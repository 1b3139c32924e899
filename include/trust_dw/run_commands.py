"""``trust-dw run`` (one ds, in-process) and ``trust-dw demo`` (generate, then the real DAG through Airflow).

Registered in ``trust_dw.cli``. ``run`` calls :func:`trust_dw.pipeline.run_ds` — the same stage functions
the Airflow DAG calls; ``demo`` drives the DAG itself through :mod:`trust_dw.airflow_local`.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from trust_dw import pipeline
from trust_dw.config import Settings

console = Console()


def _ds_option(value: str) -> str:
    try:
        return pipeline.check_ds(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


# --- what each stage did, for people --------------------------------------------------------------------


def _ingest_lines(results: list[Any], ds: str) -> None:
    from trust_dw.ingest.commands import _results_table

    console.print(_results_table(ds, results))


def _dbt_lines(result: Any) -> None:
    counts = Counter(result.node_statuses.values())
    parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    console.print(f"  dbt build: {len(result.node_statuses)} nodes ({parts})", highlight=False)


def _gate_lines(gate: Any) -> None:
    verdict = "[green]passed[/]" if gate.passed else "[bold red]FAILED[/]"
    console.print(
        f"  gate {verdict}: {len(gate.checks)} expectations, {len(gate.failed)} blocking failed, "
        f"{len(gate.warnings)} warnings",
        highlight=False,
    )
    for name in gate.warnings:
        console.print(f"  [yellow]warning[/] {name}", highlight=False)
    console.print(f"  Data Docs: {gate.data_docs}", highlight=False, soft_wrap=True)


def _publish_lines(result: Any) -> None:
    table = Table(title=f"published ds={result.ds} (run {result.run_id})", title_justify="left")
    table.add_column("table", no_wrap=True)
    table.add_column("rows", justify="right")
    table.add_column("file")
    for part in result.partitions:
        table.add_row(part.table, f"{part.rows:,}", str(part.path))
    console.print(table)
    console.print(f"  serving file: {result.serving_path}", highlight=False, soft_wrap=True)


_DETAIL = {"dbt": _dbt_lines, "gate": _gate_lines, "publish": _publish_lines}


def _show(outcome: pipeline.StageOutcome, ds: str) -> None:
    mark = "[green]✓[/]" if outcome.ok else "[bold red]✗[/]"
    console.print(f"{mark} [bold]{outcome.stage}[/] {outcome.seconds:.1f} s", highlight=False)
    error = outcome.error
    result = (
        outcome.result if outcome.ok else getattr(error, "results", None) or getattr(error, "result", None)
    )
    if result is not None:
        if outcome.stage == "ingest":
            _ingest_lines(result, ds)
        elif outcome.stage in _DETAIL:
            _DETAIL[outcome.stage](result)
    if error is not None:
        for line in str(error).splitlines():
            console.print(f"  [bold red]error[/] {line}", highlight=False, soft_wrap=True)


def run(
    ds: Annotated[str, typer.Option("--ds", help="Business date YYYY-MM-DD (Asia/Shanghai).")],
    stage: Annotated[
        list[str] | None,
        typer.Option(
            "--stage", "-s", help=f"Only this stage (repeatable): {', '.join(pipeline.STAGE_NAMES)}."
        ),
    ] = None,
) -> None:
    """Run the pipeline for one ds in this process: ingest every feed → dbt build → gate → publish.

    The same stage functions as the Airflow DAG, without Airflow. Stops at the first failing stage and
    exits 1 with that stage's message (a failed gate publishes nothing).
    """
    ds_text = _ds_option(ds)
    try:
        stages = pipeline.select_stages(stage)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--stage") from None
    settings = Settings.from_env()
    settings.ensure_dirs()
    console.print(f"[bold]trust-dw run[/] ds={ds_text} home={settings.home}", highlight=False)
    done = pipeline.run_ds(settings, ds_text, stages, on_stage=lambda o: _show(o, ds_text))
    if not done.ok:
        raise typer.Exit(1)


# --- demo ------------------------------------------------------------------------------------------------


def _dag_run_line(outcome: Any) -> None:
    counts = Counter(outcome.task_states.values())
    states = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    mark = "[green]✓[/]" if outcome.ok else "[bold red]✗[/]"
    console.print(
        f"{mark} ds={outcome.ds}: DAG run {outcome.state or 'not created'} in {outcome.seconds:.0f} s "
        f"({len(outcome.task_states)} tasks: {states or 'none'})",
        highlight=False,
    )


def _ledger_table(settings: Settings, ds: str) -> Table:
    from trust_dw.ingest import status as ingest_status

    report = ingest_status.collect(settings, ds=ds, feeds=None)
    table = Table(title=f"ingest ledger ds={ds}", title_justify="left")
    for name, justify in (("feed", "left"), ("read", "right"), ("loaded", "right"), ("quarantined", "right")):
        table.add_column(name, justify=justify, no_wrap=True)
    table.add_column("read = loaded + quarantined", justify="center")
    for row in report.rows:
        led = row.ledger
        if led is None:
            table.add_row(row.feed, "-", "-", "-", "[yellow]not loaded[/]")
            continue
        balanced = led.rows_read == led.rows_loaded + led.rows_quarantined
        table.add_row(
            row.feed,
            f"{led.rows_read:,}",
            f"{led.rows_loaded:,}",
            f"{led.rows_quarantined:,}",
            "[green]yes[/]" if balanced else "[bold red]NO[/]",
        )
    if report.note:
        table.caption = report.note
    return table


def _published_summary(settings: Settings, ds: str) -> None:
    """What was published (gate verdict, tiers, grades, allocation per pool, where the files are)."""
    from trust_dw.published_summary import NotPublished, print_published_summary

    try:
        print_published_summary(settings, ds, console)
    except NotPublished as exc:
        console.print(f"[bold red]nothing published for ds={ds}[/]: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def demo(
    scale: Annotated[
        str, typer.Option(help="Data volume (DESIGN §10): tiny, small, medium, large.")
    ] = "tiny",
    start: Annotated[str, typer.Option(help="First business date YYYY-MM-DD.")] = "2026-01-01",
    days: Annotated[int, typer.Option(min=1, help="Number of consecutive business dates.")] = 3,
    seed: Annotated[int, typer.Option(help="Generator seed (same seed, same data).")] = 42,
    faults: Annotated[str, typer.Option(help="Faults to inject, e.g. duplicates,late,malformed.")] = "",
) -> None:
    """Generate landing data, then run the real Airflow DAG (airflow dags test, SQLite) for each ds in order.

    Airflow lives in $TRUST_DW_HOME/airflow (created once). Shows what each DAG run did and what was
    published for the last ds. Exits 1 at the first failed DAG run, naming its failed tasks and log.
    """
    from trust_dw.airflow_local import LocalAirflow
    from trust_dw.generate import generate

    first = date.fromisoformat(_ds_option(start))
    dates = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    settings = Settings.from_env()
    settings.ensure_dirs()
    console.print(
        f"[bold]trust-dw demo[/] {scale} {dates[0]}…{dates[-1]} home={settings.home}", highlight=False
    )

    with console.status(f"generating {scale} landing data for {days} day(s)"):
        summary = generate(settings, scale, first, days, seed, faults or None)
    rows = sum(sum(per.values()) for per in summary.rows.values())
    console.print(f"[green]✓[/] generated {rows:,} rows into {summary.landing_dir}", highlight=False)

    airflow = LocalAirflow(settings)
    with console.status("initialising the local Airflow (db migrate, pool duckdb_writer)"):
        created = airflow.init()
    note = "initialised" if created else "already initialised"
    console.print(f"[green]✓[/] Airflow home {airflow.home} ({note})", highlight=False)

    for ds in dates:
        with console.status(f"airflow dags test trust_commerce_daily {ds}"):
            outcome = airflow.run_dag(ds)
        _dag_run_line(outcome)
        if not outcome.ok:
            failed = outcome.tasks_in("failed")
            console.print(f"  failed tasks: {', '.join(failed) or '-'}", highlight=False, soft_wrap=True)
            console.print(outcome.log_tail(30), highlight=False, soft_wrap=True, markup=False)
            console.print(f"  full log: {outcome.log_path}", highlight=False, soft_wrap=True)
            raise typer.Exit(1)

    last = dates[-1]
    console.print(_ledger_table(settings, last))
    _published_summary(settings, last)
    from trust_dw.report import write_report

    console.print(
        f"Daily report: {write_report(settings, date.fromisoformat(last))}", highlight=False, soft_wrap=True
    )
