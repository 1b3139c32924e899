"""Benchmark of the generator: wall time and peak RSS for generating one day.

    .venv/bin/python bench/bench_generate.py                 # one `medium` day
    .venv/bin/python bench/bench_generate.py --scale large   # one `large` day (10M orders; needs ~GBs)
    .venv/bin/python bench/bench_generate.py --days 3 --faults duplicates,late,malformed,drift,orphans

Writes under $TRUST_DW_BENCH_HOME (default /tmp/trust_dw_bench) and prints the figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from pathlib import Path

from trust_dw.bench.measure import own_peak_rss_kib
from trust_dw.config import Settings
from trust_dw.generate import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--start", default="2026-01-01")
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--faults", default="")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args(argv)

    home = Path(os.environ.get("TRUST_DW_BENCH_HOME", "/tmp/trust_dw_bench")) / args.scale
    shutil.rmtree(home, ignore_errors=True)
    settings = Settings(home=home)
    per_day: list[float] = []
    last = time.perf_counter()

    def tick(ds: str) -> None:
        nonlocal last
        now = time.perf_counter()
        per_day.append(now - last)
        last = now
        print(f"  {ds}: {per_day[-1]:.2f} s", flush=True)

    started = time.perf_counter()
    summary = generate(settings, args.scale, args.start, args.days, args.seed, args.faults, progress=tick)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mib = own_peak_rss_kib() / 1024
    cpu = usage.ru_utime + usage.ru_stime
    size_mib = sum(p.stat().st_size for p in settings.landing_dir.rglob("*") if p.is_file()) / 2**20
    print(f"scale={args.scale} days={args.days} seed={args.seed} faults={args.faults or '-'}")
    for feed in next(iter(summary.rows.values())):
        print(f"  {feed:<20} {summary.total_rows(feed):>12,} rows")
    print(f"wall time: {wall:.2f} s  ({wall / args.days:.2f} s/day)")
    print(f"CPU time (user+sys, incl. imports): {cpu:.2f} s  load average: {os.getloadavg()[0]:.1f}")
    print(f"peak RSS: {peak_mib:,.0f} MiB")
    print(f"landing size: {size_mib:,.0f} MiB")
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
