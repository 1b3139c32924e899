"""The floor: the least work that turns the day's landing files into the day's number of published rows."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from trust_dw.bench.measure import BENCH_DIR
from trust_dw.config import Settings


def floor_sql(settings: Settings, ds: str, rows: int, out: Path) -> str:
    """One query: read every landing file of ds once (every contract column, typed), write ``rows`` rows.

    The typed values of every column are folded into a hash per feed (so every column of every row is
    parsed and nothing can be skipped), then ``rows`` rows are written to a Parquet file.
    """
    from trust_dw.feeds import FEEDS

    digests = []
    for name, feed in FEEDS.items():
        folder = settings.feed_ds_dir(name, ds)
        columns = ", ".join(f"'{c.name}': '{c.type}'" for c in feed.columns)
        reads = []
        if any(folder.glob("*.csv")):
            reads.append(
                f"select * from read_csv('{folder}/*.csv', header = true, auto_detect = false, "
                f"delim = ',', quote = '\"', escape = '\"', null_padding = true, ignore_errors = true, "
                f"columns = {{{columns}}})"
            )
        if any(folder.glob("*.parquet")):
            casts = ", ".join(f"cast({c.name} as {c.type}) as {c.name}" for c in feed.columns)
            reads.append(f"select {casts} from read_parquet('{folder}/*.parquet')")
        if not reads:
            continue
        cols = ", ".join(c.name for c in feed.columns)
        digests.append(
            f"select '{name}' as feed, count(*) as records, bit_xor(hash({cols})) as digest "
            f"from ({' union all '.join(reads)})"
        )
    return (
        f"copy (with feed_digests as ({' union all '.join(digests)}), "
        "day as (select sum(records) as records, bit_xor(digest) as digest from feed_digests) "
        f"select i as row_number, day.records, day.digest from range({int(rows)}) as r(i), day) "
        f"to '{out}' (format parquet, compression zstd)"
    )


def run_floor(settings: Settings, ds: str, rows: int) -> dict[str, Any]:
    """Time the floor query on a fresh in-memory DuckDB with the pipeline's threads and memory limit."""
    import duckdb

    out = settings.home / BENCH_DIR / "floor" / f"ds={ds}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    settings.duckdb_temp_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        config={
            "memory_limit": settings.memory_limit,
            "threads": settings.threads,
            "temp_directory": str(settings.duckdb_temp_dir),
            "preserve_insertion_order": False,
        }
    )
    try:
        sql = floor_sql(settings, ds, rows, out)
        wall = time.perf_counter()
        con.execute(sql)
        wall = time.perf_counter() - wall
        [(written, records)] = con.execute(
            f"select count(*), max(records) from read_parquet('{out}')"
        ).fetchall()
    finally:
        con.close()
    return {
        "ds": ds,
        "wall_s": round(wall, 3),
        "records_read": int(records or 0),
        "rows_written": int(written),
        "load_avg": round(os.getloadavg()[0], 2),
    }
