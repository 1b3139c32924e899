"""The ``trust-dw ingest`` and ``trust-dw status`` commands (registered in ``trust_dw.cli``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from trust_dw.config import Settings

console = Console()

_NO_WRAP = {"ds", "feed", "status", "ingest", "landed"}  # never cut: the rest shrinks on narrow terminals
_STATUS_STYLE = {"loaded": "green", "unchanged": "cyan", "failed": "bold red", "not_ready": "yellow"}


def _parse_ds(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from None


def _check_feeds(feeds: list[str] | None) -> list[str] | None:
    from trust_dw.feeds import FEED_NAMES

    unknown = [f for f in feeds or [] if f not in FEED_NAMES]
    if unknown:
        raise typer.BadParameter(f"unknown feed(s) {', '.join(unknown)}; feeds are: {', '.join(FEED_NAMES)}")
    return feeds or None


def _share(value: float) -> str:
    return f"{value:.2%}"


def _results_table(ds: str, results) -> Table:
    table = Table(title=f"ingest ds={ds}", title_justify="left")
    for name, justify in (
        ("feed", "left"),
        ("files", "right"),
        ("rows read", "right"),
        ("loaded", "right"),
        ("quar.", "right"),
        ("share", "right"),
        ("drift", "left"),
        ("status", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=name in _NO_WRAP)
    for r in results:
        style = _STATUS_STYLE.get(r.status, "")
        counted = r.status in ("loaded", "unchanged")  # failed / not ready: nothing to count
        table.add_row(
            r.feed,
            str(r.files) if counted else "",
            f"{r.rows_read:,}" if counted else "",
            f"{r.rows_loaded:,}" if counted else "",
            f"{r.rows_quarantined:,}" if counted else "",
            _share(r.quarantine_share) if counted else "",
            (", ".join(r.drift_columns) or "-") if counted else "",
            f"[{style}]{r.status}[/]",
        )
    return table


def ingest(
    ds: Annotated[str, typer.Option("--ds", help="Business date YYYY-MM-DD (the landing partition ds=...).")],
    feed: Annotated[
        list[str] | None,
        typer.Option("--feed", "-f", help="Only this feed (repeatable). Default: every feed."),
    ] = None,
) -> None:
    """Load landing/<feed>/ds=<ds>/ (CSV/Parquet + _SUCCESS) into raw.<feed> of the working DuckDB file.

    Every row is loaded or quarantined (ingest.quarantine) and counted in ingest.load_ledger. Loading the
    same files again changes nothing; changed files replace the ds's partition. Exits 1 when a feed is not
    ready (no _SUCCESS) or has a file-level fault (bad encoding, unparseable, required column missing).
    """
    from trust_dw.ingest import IngestBatchError, ingest_ds

    ds_text = _parse_ds(ds)
    feeds = _check_feeds(feed)
    settings = Settings.from_env()
    settings.ensure_dirs()
    try:
        results = ingest_ds(settings, ds_text, feeds)
        failed = None
    except IngestBatchError as exc:
        results, failed = exc.results, exc
    console.print(_results_table(ds_text, results))
    for r in results:
        if r.message and r.status in ("loaded", "unchanged"):
            console.print(f"[yellow]warning[/] {r.feed}: {r.message}", highlight=False, soft_wrap=True)
    if any(r.rows_quarantined for r in results):
        console.print(f"quarantined rows: trust-dw status --quarantine --ds {ds_text}", highlight=False)
    if failed is not None:
        for line in str(failed).splitlines():
            console.print(f"[bold red]error[/] {line}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def status(
    ds: Annotated[str | None, typer.Option("--ds", help="Only this business date YYYY-MM-DD.")] = None,
    feed: Annotated[
        list[str] | None, typer.Option("--feed", "-f", help="Only this feed (repeatable).")
    ] = None,
    last: Annotated[int, typer.Option(help="Without --ds: show the newest N dates.")] = 7,
    quarantine: Annotated[
        bool,
        typer.Option("--quarantine", "-q", help="Also show quarantine reasons and sample rows (needs --ds)."),
    ] = False,
    limit: Annotated[int, typer.Option(help="Quarantine sample rows to print.")] = 20,
) -> None:
    """What has landed (files, _SUCCESS) and what was loaded and quarantined (from ingest.load_ledger).

    Reads the working DuckDB file read-only; it fails politely while a writer (ingest, dbt) holds it.
    """
    from trust_dw.ingest import status as ingest_status

    ds_text = _parse_ds(ds)
    feeds = _check_feeds(feed)
    if quarantine and ds_text is None:
        raise typer.BadParameter("--quarantine needs --ds", param_hint="--quarantine")
    settings = Settings.from_env()
    report = ingest_status.collect(settings, ds=ds_text, feeds=feeds, last=last)

    table = Table(title=f"landing and ingest — {settings.home}", title_justify="left")
    for name, justify in (
        ("ds", "left"),
        ("feed", "left"),
        ("landed", "left"),
        ("ingest", "left"),
        ("read", "right"),
        ("loaded", "right"),
        ("quar.", "right"),
        ("share", "right"),
        ("drift", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=name in _NO_WRAP)
    for row in report.rows:
        led = row.ledger
        style = _STATUS_STYLE.get(led.status if led else "", "")
        landed = f"{row.files_landed} file{'s' if row.files_landed != 1 else ''}"
        table.add_row(
            row.ds,
            row.feed,
            f"{landed}, [green]_SUCCESS[/]" if row.success else f"{landed}, [yellow]not ready[/]",
            f"[{style}]{led.status}[/]" if led else "-",
            f"{led.rows_read:,}" if led else "",
            f"{led.rows_loaded:,}" if led else "",
            f"{led.rows_quarantined:,}" if led else "",
            _share(led.quarantine_share) if led else "",
            (led.drift_columns or "-") if led else "",
        )
    console.print(table)
    if report.note:
        console.print(f"[yellow]{report.note}[/]", highlight=False)
    for row in report.rows:
        if row.ledger and row.ledger.status == "failed":
            console.print(f"[bold red]failed[/] {row.feed} {row.ds}: {row.ledger.message}", highlight=False)

    from trust_dw.run_ledger import runs_table  # the last pipeline runs, from the run ledger

    console.print(runs_table(settings, ds=ds_text, limit=last))

    if quarantine and not report.note:
        reasons, sample = ingest_status.quarantine_sample(settings, ds_text, feeds, limit)
        counts = Table(title=f"quarantine ds={ds_text}: rows by reason", title_justify="left")
        for name in ("feed", "reason_code", "rows"):
            counts.add_column(name, justify="right" if name == "rows" else "left")
        for feed_name, code, n in reasons:
            counts.add_row(feed_name, code, f"{n:,}")
        console.print(counts)
        console.print(
            f"quarantine ds={ds_text}: first {len(sample)} row(s) (file:line reason — detail, raw row)"
        )
        for _feed, source_file, line, code, detail, raw in sample:
            console.print(
                f"  [bold]{source_file}:{line}[/] [red]{code}[/] — {detail or ''}",
                highlight=False,
                soft_wrap=True,
            )
            console.print(f"    {(raw or '')[:300]}", markup=False, highlight=False, soft_wrap=True)
    elif ds_text:
        console.print(
            f"inspect quarantined rows: trust-dw status --quarantine --ds {ds_text}  or, read-only, duckdb "
            f"-readonly {settings.warehouse_path} \"select * from ingest.quarantine where ds = '{ds_text}'\"",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(
            "inspect quarantined rows of a date: trust-dw status --quarantine --ds YYYY-MM-DD",
            highlight=False,
        )
