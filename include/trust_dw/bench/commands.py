"""``trust-dw bench`` (registered in ``trust_dw.cli``) and ``python -m trust_dw.bench day``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Annotated

import typer

from trust_dw.bench.day import run_day
from trust_dw.bench.driver import DEFAULT_SEED, DEFAULT_START, RESULTS_DIR, BenchConfig, run_bench
from trust_dw.bench.measure import say
from trust_dw.bench.report import fmt
from trust_dw.config import Settings

# DuckDB settings of a benchmark home, shared by `bench` and `bench-profile`.
MemoryLimitOption = Annotated[
    str | None, typer.Option(help="DuckDB memory_limit (default TRUST_DW_MEMORY_LIMIT, 3GB).")
]
ThreadsOption = Annotated[
    int | None, typer.Option(help="DuckDB threads (default TRUST_DW_THREADS, all cores).")
]


def bench(
    scale: Annotated[str, typer.Option(help="Generator scale: tiny, small, medium, large.")] = "small",
    days: Annotated[
        int,
        typer.Option(min=1, help="Business dates to run, in order; the last one is (re)run and measured."),
    ] = 3,
    start: Annotated[str, typer.Option(help="First business date YYYY-MM-DD.")] = DEFAULT_START,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = DEFAULT_SEED,
    home: Annotated[
        Path | None,
        typer.Option(help="TRUST_DW_HOME of the benchmark (default $TRUST_DW_BENCH_HOME/<scale>)."),
    ] = None,
    memory_limit: MemoryLimitOption = None,
    threads: ThreadsOption = None,
    airflow: Annotated[
        bool, typer.Option("--airflow", help="Also time the last ds through `airflow dags test`.")
    ] = False,
    max_rss_gb: Annotated[
        float, typer.Option(help="Kill a day's run whose RSS passes this many GB (protects a shared box).")
    ] = 16.0,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Forget earlier runs in this home (keeps the landing files).")
    ] = False,
    results_dir: Annotated[
        Path, typer.Option(help="Where <name>.json and <name>.md are written.")
    ] = RESULTS_DIR,
    name: Annotated[str | None, typer.Option(help="Results file name (default: the scale).")] = None,
) -> None:
    """Benchmark the daily run: generate (or reuse) data, run every ds, measure, verify, write results."""
    config = BenchConfig(
        scale=scale,
        days=days,
        start=start,
        seed=seed,
        home=home,
        memory_limit=memory_limit,
        threads=threads,
        airflow=airflow,
        max_rss_gb=max_rss_gb,
        fresh=fresh,
        results_dir=results_dir,
        name=name,
    )
    doc = run_bench(config)
    for target in doc["targets"]:
        state = "-" if target["met"] is None else ("met" if target["met"] else "NOT met")
        say(f"  target {target['target']}: {fmt(target['measured'], 2)} ({state})")
    if not doc["ok"] or not doc["verified"]:
        say("benchmark FAILED: a run failed or its outputs did not verify (see the results)")
        raise typer.Exit(1)


def bench_profile(
    scale: Annotated[str, typer.Option(help="Scale whose benchmark home is profiled.")] = "small",
    home: Annotated[
        Path | None,
        typer.Option(help="TRUST_DW_HOME to profile (default $TRUST_DW_BENCH_HOME/<scale>)."),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="A model to profile (repeatable; default: the run's slowest)."),
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Without --model: how many of the slowest models.")] = 6,
    operators: Annotated[int, typer.Option(min=1, help="Operators listed per model, slowest first.")] = 8,
    memory_limit: MemoryLimitOption = None,
    threads: ThreadsOption = None,
    out: Annotated[Path | None, typer.Option(help="Also write the Markdown (and <out>.json) here.")] = None,
) -> None:
    """Profile models of the last run: each compiled SELECT again, read-only, under DuckDB's profiler."""
    from trust_dw.bench.profile import markdown, profile_model, slowest_models

    config = BenchConfig(scale=scale, days=1, home=home, memory_limit=memory_limit, threads=threads)
    settings = config.settings()
    profiles = []
    try:
        for name in model or slowest_models(settings, top):
            say(f"profiling {name} …")
            profiles.append(profile_model(settings, name, operators))
    except (FileNotFoundError, KeyError) as exc:
        say(f"bench-profile: {exc.args[0] if exc.args else exc}")
        raise typer.Exit(1) from None
    text = markdown(settings, profiles)
    print(text)
    if out:
        out.write_text(text, encoding="utf-8")
        out.with_suffix(".json").write_text(
            json.dumps([p.to_json() for p in profiles], indent=1), encoding="utf-8"
        )


def main(argv: list[str] | None = None) -> int:
    """``python -m trust_dw.bench day …``: run and measure one ds in this process, write its record."""
    parser = argparse.ArgumentParser(prog="python -m trust_dw.bench")
    sub = parser.add_subparsers(dest="command", required=True)
    day = sub.add_parser("day", help="run and measure one ds in this process (used by the driver)")
    day.add_argument("--ds", required=True)
    day.add_argument("--index", type=int, default=1)
    day.add_argument("--out", required=True)
    day.add_argument("--rerun", action="store_true")
    args = parser.parse_args(argv)
    record = run_day(Settings.from_env(), args.ds, args.index, args.rerun)
    Path(args.out).write_text(json.dumps(record.to_json(), indent=1, default=str), encoding="utf-8")
    return 0 if record.ok else 1
