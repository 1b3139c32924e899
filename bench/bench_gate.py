"""Cost of the quality gate and of publishing on real candidate tables: seconds per phase, rows, peak RSS.

    .venv/bin/python bench/bench_gate.py --home /tmp/bench-gate --ds 2026-01-02 [--runs 2]

``--home`` must hold a working file where the ds was built (e.g. ``trust-dw generate --scale small`` then
``trust-dw run --ds D``). Each run is a fresh process, as in Airflow (one task = one process): the first
one in a home also creates the GX context and its assets. Then publish is timed (it needs the passed gate).
Reading the candidates as pandas DataFrames is the price of avoiding GX's SQL datasource over
duckdb-engine (DESIGN §11): it is ``read_frames``. Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import json, sys, time
started = time.perf_counter()
from trust_dw.bench.measure import own_peak_rss_kib
from trust_dw.config import Settings
from trust_dw.quality import validate
settings = Settings.from_env()
result = validate(settings, sys.argv[1], raise_on_failure=False)
out = {"passed": result.passed, "failed": result.failed, "warnings": result.warnings,
       "checks": len(result.checks), "timings": result.timings, "validate_s": result.seconds,
       "process_s": time.perf_counter() - started,
       "rss_mb": own_peak_rss_kib() / 1024}
if sys.argv[2] == "publish" and result.passed:
    from trust_dw.publish import publish
    mark = time.perf_counter()
    published = publish(settings, sys.argv[1], run_id="bench")
    out["publish_s"] = time.perf_counter() - mark
    parts = published.partitions
    out["published_bytes"] = sum(p.path.joinpath("part-0.parquet").stat().st_size for p in parts)
print("RESULT " + json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, required=True, help="TRUST_DW_HOME with the ds built")
    parser.add_argument("--ds", required=True, help="business date to validate")
    parser.add_argument("--runs", type=int, default=2, help="gate runs, each in a fresh process")
    args = parser.parse_args()

    home = args.home.resolve()
    env = dict(os.environ, TRUST_DW_HOME=str(home), GX_ANALYTICS_ENABLED="False", DO_NOT_TRACK="1")
    os.environ.update(env)
    from trust_dw.config import Settings
    from trust_dw.publish import PUBLISHED_TABLES
    from trust_dw.warehouse import connect

    settings = Settings.from_env()
    with connect(settings, read_only=True) as con:
        rows = {
            t: con.execute(
                f"select count(*) from marts.{t} where ds = cast(? as date)", [args.ds]
            ).fetchall()[0][0]
            for t in PUBLISHED_TABLES
        }
    print(
        f"gate on {settings.warehouse_path}, ds={args.ds} "
        f"(cores={os.cpu_count()}, threads={settings.threads})"
    )
    for table, n in rows.items():
        print(f"  {table:<24} {n:>10,} candidate rows")
    print(f"  {'total':<24} {sum(rows.values()):>10,}")

    for run in range(1, args.runs + 1):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, args.ds, "publish" if run == args.runs else "gate"],
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if done.returncode != 0 or line is None:
            sys.exit(f"run {run} failed:\n{done.stderr[-3000:]}")
        out = json.loads(line[len("RESULT ") :])
        phases = ", ".join(f"{k} {v:.2f}" for k, v in out["timings"].items())
        verdict = "passed" if out["passed"] else f"FAILED {out['failed']}"
        print(
            f"run {run}: process {wall:.1f} s (validate() {out['validate_s']:.1f} s: {phases}); "
            f"{out['checks']} expectations {verdict}, warnings {out['warnings']}; "
            f"peak RSS {out['rss_mb']:.0f} MB"
        )
        if "publish_s" in out:
            print(
                f"publish: {out['publish_s']:.2f} s for {sum(rows.values()):,} rows "
                f"({out['published_bytes'] / 1e6:.1f} MB of Parquet) + serving file swap"
            )


if __name__ == "__main__":
    main()
