"""`trust-dw`: the command-line tool (typer + rich).

Each command is a thin wrapper over one stage module of this package; the Airflow DAGs call the same
functions. Every path comes from TRUST_DW_HOME (see trust_dw.config).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    write_openapi: Annotated[
        Path | None,
        typer.Option("--write-openapi", help="Write the OpenAPI spec to this file, then exit."),
    ] = None,
) -> None:
    """Serve the read-only snapshot API over $TRUST_DW_HOME/exports (see docs/consumers.md)."""
    from trust_dw import api

    if write_openapi is not None:
        api.write_openapi(write_openapi)
        console.print(f"wrote {write_openapi}")
        return
    import uvicorn

    exports = Settings.from_env().exports_dir  # no ensure_dirs(): the API creates nothing
    console.print(f"serving snapshots of {exports} on http://{host}:{port} (docs: /docs)")
    uvicorn.run(api.create_app(exports), host=host, port=port, log_level=log_level)


@app.command()
def report(
    ds: Annotated[str, typer.Option(help="Business date YYYY-MM-DD.")],
    out: Annotated[
        Path | None, typer.Option(help="Write here instead of exports/_reports/ds=D/report.html.")
    ] = None,
) -> None:
    """Write the daily HTML report of a published ds (distributions, concentration, quality, timings)."""
    from datetime import date

    from trust_dw.report import write_report

    try:
        day = date.fromisoformat(ds)
    except ValueError:
        raise typer.BadParameter(f"{ds!r} is not a date YYYY-MM-DD", param_hint="--ds") from None
    path = write_report(Settings.from_env(), day, out)
    console.print(f"report for ds={day}: {path}")


# --- ingest (trust_dw.ingest.commands) ------------------------------------------------------------
from trust_dw.ingest import commands as _ingest_commands  # noqa: E402

app.command(name="ingest")(_ingest_commands.ingest)
app.command(name="status")(_ingest_commands.status)


# --- generate (trust_dw.generate.commands) --------------------------------------------------------
from trust_dw.generate import commands as _generate_commands  # noqa: E402

app.command(name="generate")(_generate_commands.generate)


# --- gate and publish (trust_dw.quality, trust_dw.publish, trust_dw.published_summary) ---------------
@app.command()
def gate(ds: Annotated[str, typer.Option(help="Business date YYYY-MM-DD.")]) -> None:
    """Run the Great Expectations gate on the candidates of the ds (exit 1 if a blocking check fails)."""
    from trust_dw.quality import GateFailed, validate

    try:
        result = validate(settings(), ds)
    except GateFailed as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(result.message())


@app.command()
def publish(
    ds: Annotated[str, typer.Option(help="Business date YYYY-MM-DD (its gate must have passed).")],
    run_id: Annotated[str | None, typer.Option(help="Recorded in the manifests.")] = None,
) -> None:
    """Publish the ds: Parquet snapshots + manifests, LATEST, and the serving DuckDB file."""
    from trust_dw.publish import NotAudited
    from trust_dw.publish import publish as publish_ds

    try:
        result = publish_ds(settings(), ds, run_id=run_id)
    except NotAudited as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    for part in result.partitions:
        console.print(f"{part.table}: {part.rows:,} rows, sha256 {part.sha256[:12]}…  {part.path}")
    console.print(f"serving file: {result.serving_path}")


@app.command()
def published(
    ds: Annotated[str | None, typer.Option(help="Business date YYYY-MM-DD (default: LATEST).")] = None,
) -> None:
    """What was published for the ds: gate verdict, tiers, grades, allocation per pool, where files are."""
    from trust_dw.published_summary import NotPublished, print_published_summary

    try:
        print_published_summary(settings(), ds, console)
    except NotPublished as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


# --- run / demo (trust_dw.run_commands) -----------------------------------------------------------
from trust_dw import run_commands as _run_commands  # noqa: E402

app.command(name="run")(_run_commands.run)
app.command(name="demo")(_run_commands.demo)


# --- backfill (trust_dw.backfill) -------------------------------------------------------------------
from trust_dw import backfill as _backfill  # noqa: E402

app.command(name="backfill")(_backfill.command)


# --- scores (trust_dw.scores_report) ----------------------------------------------------------------
_SCORES_DS_HELP = "Business date YYYY-MM-DD (default: the latest built)."


@app.command()
def summary(
    ds: Annotated[str | None, typer.Option(help=_SCORES_DS_HELP)] = None,
) -> None:
    """Shops per grade and status, products per tier, providers per tier and action, creators per star band,
    growth stages — from the score marts of the working file (read-only)."""
    from trust_dw.scores_report import ScoresReportError, render_summary
    from trust_dw.scores_report import summary as score_summary

    try:
        console.print(render_summary(score_summary(Settings.from_env(), ds)))
    except ScoresReportError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


@app.command()
def explain(
    kind: Annotated[str, typer.Argument(help="shop, creator, product or provider.")],
    subject_id: Annotated[str, typer.Argument(help="The shop_id / creator_id / product_id / provider_id.")],
    ds: Annotated[str | None, typer.Option(help=_SCORES_DS_HELP)] = None,
) -> None:
    """Take one published score apart: every indicator's raw value, score and weight, the dimension scores,
    the deductions and the total."""
    from trust_dw.scores_report import ScoresReportError, render_explanation
    from trust_dw.scores_report import explain as explain_score

    try:
        explanation = explain_score(Settings.from_env(), kind, subject_id, ds)
        # the indicator table needs ~110 columns: wider than a pipe's default 80
        Console(width=max(console.width, 110)).print(render_explanation(explanation))
    except ScoresReportError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


# --- bench (trust_dw.bench) -----------------------------------------------------------------------
from trust_dw.bench import commands as _bench_commands  # noqa: E402

app.command(name="bench")(_bench_commands.bench)
app.command(name="bench-profile")(_bench_commands.bench_profile)
