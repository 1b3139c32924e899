"""`trust-dw`: the command-line tool (typer + rich).

Each command is a thin wrapper over one stage module of this package; the Airflow DAGs call the same
functions. Every path comes from TRUST_DW_HOME (see trust_dw.config).
"""

from __future__ import annotations

import typer
from rich.console import Console

from trust_dw import __version__
from trust_dw.config import Settings

app = typer.Typer(
    name="trust-dw",
    help="Trust-commerce warehouse: generate landing data, ingest, build, gate and publish a business date.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
console = Console()


def settings() -> Settings:
    s = Settings.from_env()
    s.ensure_dirs()
    return s


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    """Paths come from TRUST_DW_HOME (default ./var)."""
    if version:
        console.print(__version__)
        raise typer.Exit()
