"""Ingest throughput on one generated day: rows/second per feed and overall, and peak RSS.

    .venv/bin/python bench/bench_ingest.py [--home /tmp/bench-ingest] [--scale medium] [--ds 2026-01-01]

Generates the day under ``--home`` if its landing files are missing (same seed ⇒ same files), loads
every feed into a fresh working file ``<home>/warehouse/bench_ingest.duckdb``, then loads again to time
the unchanged check (sha256 of every file). Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, default=Path("/tmp/bench-ingest"), help="TRUST_DW_HOME to use")
    parser.add_argument("--scale", default="medium", help="generator scale (tiny, small, medium, large)")
    parser.add_argument("--ds", default="2026-01-01", help="business date to generate and load")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    home = args.home.resolve()
    os.environ["TRUST_DW_HOME"] = str(home)
    os.environ["TRUST_DW_WAREHOUSE"] = str(home / "warehouse" / "bench_ingest.duckdb")
    os.environ.setdefault("DO_NOT_TRACK", "1")

    from trust_dw.bench.measure import own_peak_rss_kib
    from trust_dw.config import Settings
    from trust_dw.feeds import FEED_NAMES
    from trust_dw.ingest import feed_ready, ingest_feed
    from trust_dw.warehouse import connect

    settings = Settings.from_env()
    settings.ensure_dirs()
    if not all(feed_ready(settings, f, args.ds) for f in FEED_NAMES):
        from trust_dw.generate import generate

        started = time.perf_counter()
        generate(settings, args.scale, args.ds, 1, args.seed)
        print(f"generated {args.scale} {args.ds} under {home} in {time.perf_counter() - started:.1f} s")
    for suffix in ("", ".wal"):
        Path(str(settings.warehouse_path) + suffix).unlink(missing_ok=True)

    landed_bytes = {
        f: sum(p.stat().st_size for p in settings.feed_ds_dir(f, args.ds).iterdir() if p.is_file())
        for f in FEED_NAMES
    }
    print(
        f"ingest {args.ds} from {settings.landing_dir} (threads={settings.threads}, cores={os.cpu_count()})"
    )
    print(
        f"{'feed':<20} {'rows':>10} {'MB':>8} {'wall s':>8} {'cpu s':>8} {'rows/s':>12} {'quarantined':>12}"
    )
    total_rows = total_wall = total_cpu = 0.0
    con = connect(settings)
    try:
        for feed in FEED_NAMES:
            wall, cpu = time.perf_counter(), time.process_time()
            result = ingest_feed(settings, feed, args.ds, con)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            total_rows += result.rows_read
            total_wall += wall
            total_cpu += cpu
            mb = landed_bytes[feed] / 1e6
            print(
                f"{feed:<20} {result.rows_read:>10,} {mb:>8.1f} {wall:>8.2f} {cpu:>8.2f} "
                f"{result.rows_read / wall:>12,.0f} {result.rows_quarantined:>12,}"
            )
        mb = sum(landed_bytes.values()) / 1e6
        print(
            f"{'all feeds':<20} {int(total_rows):>10,} {mb:>8.1f} {total_wall:>8.2f} "
            f"{total_cpu:>8.2f} {total_rows / total_wall:>12,.0f}"
        )
        wall = time.perf_counter()
        statuses = {ingest_feed(settings, f, args.ds, con).status for f in FEED_NAMES}
        print(
            f"second load of the same files: {statuses} in {time.perf_counter() - wall:.2f} s (sha256 check)"
        )
    finally:
        con.close()
    print(f"peak RSS: {own_peak_rss_kib() / 1024:.0f} MiB")
    print(f"working file: {settings.warehouse_path} ({settings.warehouse_path.stat().st_size / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
