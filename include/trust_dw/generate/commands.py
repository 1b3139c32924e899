"""``trust-dw generate``: the CLI face of ``trust_dw.generate.generate`` (rich progress bar)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from trust_dw.config import Settings
from trust_dw.generate.core import generate as run_generate
from trust_dw.generate.core import parse_faults
from trust_dw.generate.faults import FAULT_KINDS
from trust_dw.generate.scales import SCALES

console = Console()


def generate(
    scale: Annotated[str, typer.Option(help=f"Data volume: {', '.join(SCALES)} (DESIGN §10).")] = "tiny",
    start: Annotated[str, typer.Option(help="First business date, YYYY-MM-DD.")] = "2026-01-01",
    days: Annotated[int, typer.Option(min=1, help="Number of consecutive days to write.")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, byte-identical files.")] = 42,
    faults: Annotated[
        str, typer.Option(help=f"Comma-separated faults to inject: {','.join(FAULT_KINDS)} (default none).")
    ] = "",
) -> None:
    """Write landing files ($TRUST_DW_HOME/landing/<feed>/ds=D/part-00000.csv + _SUCCESS) for a date range."""
    if scale not in SCALES:
        raise typer.BadParameter(f"choose from {', '.join(SCALES)}", param_hint="--scale")
    try:
        start_date = date.fromisoformat(start)
        kinds = parse_faults(faults)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    settings = Settings.from_env()
    settings.ensure_dirs()
    columns = (
        TextColumn("[bold]generate[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(f"{scale} from {start_date}", total=days)
        summary = run_generate(
            settings,
            scale,
            start_date,
            days,
            seed,
            kinds,
            progress=lambda ds: bar.update(task, advance=1, description=ds),
        )
    table = Table(title=f"landing files in {summary.landing_dir}")
    table.add_column("feed")
    table.add_column("rows", justify="right")
    feeds = list(next(iter(summary.rows.values())))
    for feed in feeds:
        table.add_row(feed, f"{summary.total_rows(feed):,}")
    console.print(table)
    if kinds:
        totals = {k: sum(per[k] for per in summary.injected.values()) for k in kinds}
        console.print("faults injected: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
        console.print(f"fault manifests: {settings.landing_dir / '_faults'}")
