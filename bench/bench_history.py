"""Does a day's warehouse build cost the same on day 31 as on day 2? (DESIGN §2; issue 3.)

Generates ``--days`` days at ``--scale`` (default small × 31), then ingests and builds them one ds at a
time with the ``warehouse`` selector (staging, snapshots, core, contract windows, their data tests),
exactly as the daily pipeline does. Per ds it prints:

- ``build_s``: wall seconds of the dbt build (includes dbt's start-up and project parse, which is the
  same every day); ``cpu_s``: CPU seconds of this process during it (dbt and DuckDB run in-process), the
  figure least disturbed by other work on the machine;
- ``models_s``: Σ execution seconds of the nodes (run_results.json), the data work alone;
- ``partition``: rows in the ds's raw.orders partition, and ``scanned``: rows of raw.orders the
  fct_orders model actually read (DuckDB profiling of its compiled SQL re-run read-only);
- ``raw_total``: rows in raw.orders (what a full rebuild would read).

Then day 2 vs the last day and their ratio (target: last ≤ 1.3 × day 2). Heavy: ~30 dbt builds.

    .venv/bin/python bench/bench_history.py --home /tmp/bench_history [--scale small] [--days 31]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

for _name, _value in (
    ("DO_NOT_TRACK", "1"),
    ("DBT_SEND_ANONYMOUS_USAGE_STATS", "False"),
    ("GX_ANALYTICS_ENABLED", "False"),
):
    os.environ.setdefault(_name, _value)

from trust_dw.config import Settings  # noqa: E402
from trust_dw.dbt_runner import build, dbt_target_dir  # noqa: E402
from trust_dw.generate import generate  # noqa: E402
from trust_dw.ingest import ingest_ds  # noqa: E402
from trust_dw.warehouse import connect  # noqa: E402


def _model_seconds(settings: Settings) -> float:
    results = json.loads((dbt_target_dir(settings) / "run_results.json").read_text())
    return sum(r["execution_time"] for r in results["results"])


def _rows_read_by_fct_orders(settings: Settings) -> dict[str, tuple[int, int]]:
    """Per table scanned by fct_orders' compiled (incremental) SQL: (rows in the row groups DuckDB read,
    rows that passed the scan's filters), from DuckDB's JSON profiler."""
    compiled = next((dbt_target_dir(settings) / "compiled").rglob("models/core/fct_orders.sql")).read_text()
    profile = Path(tempfile.mkstemp(suffix=".json")[1])
    try:
        with connect(settings, read_only=True) as con:
            con.execute("pragma enable_profiling = 'json'")
            con.execute(f"pragma profiling_output = '{profile}'")
            con.execute(f"select count(*) from ({compiled})").fetchall()
            con.execute("pragma disable_profiling")
        tree = json.loads(profile.read_text())
    finally:
        profile.unlink(missing_ok=True)
    found: dict[str, tuple[int, int]] = {}

    def walk(node: dict) -> None:
        table = (node.get("extra_info") or {}).get("Table")
        if node.get("type") == "TABLE_SCAN" and table:
            name = ".".join(table.split(".")[-2:])
            read, passed = found.get(name, (0, 0))
            found[name] = (
                read + int(node.get("rows_scanned", 0)),
                passed + int(node.get("intermediate_rows", 0)),
            )
        for child in node.get("children", []):
            walk(child)

    for op in tree.get("operator", []):
        walk(op)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, default=Path(tempfile.gettempdir()) / "bench_history")
    parser.add_argument("--scale", default="small")
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--start", default="2026-01-01")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    home = args.home.resolve()
    if home.exists():
        shutil.rmtree(home)
    # Paths from the environment (TRUST_DW_REPO may point at another checkout), the home from --home.
    memory = os.environ.get("TRUST_DW_MEMORY_LIMIT", "2GB")
    settings = dataclasses.replace(Settings.from_env(), home=home, memory_limit=memory, threads=2)
    settings.ensure_dirs()
    t0 = time.perf_counter()
    generate(settings, args.scale, args.start, args.days, args.seed)
    print(f"generated {args.scale} x {args.days} days in {time.perf_counter() - t0:.0f} s ({home})")

    days = [(date.fromisoformat(args.start) + timedelta(days=i)).isoformat() for i in range(args.days)]
    header = (
        "ds",
        "build_s",
        "cpu_s",
        "models_s",
        "partition",
        "raw_read",
        "raw_kept",
        "fct_read",
        "raw_total",
    )
    print("{:<11} {:>8} {:>7} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}".format(*header))
    figures: dict[str, tuple[float, float, float, int, int]] = {}
    for ds in days:
        ingest_ds(settings, ds)
        t, cpu = time.perf_counter(), time.process_time()
        build(settings, ds, selector="warehouse")
        build_s, cpu_s = time.perf_counter() - t, time.process_time() - cpu
        models_s = _model_seconds(settings)
        with connect(settings, read_only=True) as con:
            partition, total = con.execute(
                "select count(*) filter (where _ds = cast(? as date)), count(*) from raw.orders", [ds]
            ).fetchone()
        reads = _rows_read_by_fct_orders(settings)
        raw_read, raw_kept = reads.get("raw.orders", (0, 0))
        fct_read = reads.get("core.fct_orders", (0, 0))[0]
        figures[ds] = (build_s, cpu_s, models_s, raw_read, fct_read)
        row = (ds, f"{build_s:.1f}", f"{cpu_s:.1f}", f"{models_s:.1f}", f"{partition:,}", f"{raw_read:,}")
        print(
            "{:<11} {:>8} {:>7} {:>9} {:>10} {:>10}".format(*row),
            f"{raw_kept:>10,}",
            f"{fct_read:>10,} {total:>10,}",
            flush=True,
        )

    n = len(days)
    print()
    for label, ds in (("day 2", days[1]), (f"day {n}", days[-1])):
        b, c, m, r, f = figures[ds]
        print(f"{label} ({ds}): build {b:.1f} s wall, {c:.1f} s CPU, nodes {m:.1f} s,")
        print(f"    rows read: raw.orders {r:,}, fct_orders {f:,}")
    (b2, c2, m2, r2, _), (bn, cn, mn, rn, _) = figures[days[1]], figures[days[-1]]
    print(f"ratio day {n} / day 2: wall {bn / b2:.2f}, CPU {cn / c2:.2f}, nodes {mn / m2:.2f}")
    print(f"    raw.orders rows read {rn / max(r2, 1):.2f}")
    per_k = [figures[d][1] * 1000 / max(figures[d][3], 1) for d in (days[1], days[-1])]
    print(f"CPU s per 1,000 raw.orders rows of the ds: day 2 {per_k[0]:.3f}, day {n} {per_k[1]:.3f}")
    verdict = {
        name: "met" if ratio <= 1.3 else "NOT met" for name, ratio in (("wall", bn / b2), ("CPU", cn / c2))
    }
    print(f"target <= 1.3: wall {verdict['wall']}, CPU {verdict['CPU']}")
    print("(wall and node times depend on the machine's load; CPU seconds of the build process much less)")


if __name__ == "__main__":
    main()
