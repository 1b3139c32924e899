"""A BI client in a loop: query the serving file read-only until told to stop; log every answer or error.

    python tests/reliability/bi_reader.py <serving file> <log.jsonl> <stop file> reconnect|keep

``reconnect`` opens a new read-only connection for every round (a dashboard refresh), ``keep`` holds one
connection for the whole loop (a SQL client left open). Each line of the log is one query:
``{"query": name, "answer": ...}`` or ``{"query": name, "error": "..."}``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb

QUERIES = {
    # every published ds of a table: rows and a content hash per ds
    "shop_scores_by_ds": (
        "select cast(ds as varchar), count(*), cast(sum(hash(shop_id, experience_score, grade)) as varchar) "
        "from shop_scores_daily group by ds order by ds"
    ),
    # the LATEST partition of another table
    "product_tiers_latest": (
        "select count(*), cast(sum(hash(product_id, tier, product_score)) as varchar) "
        "from product_tiers_daily_latest"
    ),
    # the newest allocation: impressions per pool
    "flow_newest": (
        "select pool_id, sum(impressions) from flow_allocation_daily "
        "where ds = (select max(ds) from flow_allocation_daily) group by pool_id order by pool_id"
    ),
}


def answers(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, sql in QUERIES.items():
        try:
            out[name] = [list(row) for row in con.execute(sql).fetchall()]
        except Exception as exc:  # any error is what the test looks for: record it, keep going
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def main(serving: str, log_path: str, stop_file: str, mode: str) -> None:
    stop = Path(stop_file)
    kept = duckdb.connect(serving, read_only=True) if mode == "keep" else None
    with open(log_path, "a", encoding="utf-8") as log:
        while not stop.exists():
            try:
                if kept is not None:
                    result = answers(kept)
                else:
                    with duckdb.connect(serving, read_only=True) as con:
                        result = answers(con)
            except Exception as exc:  # the connection itself failed
                result = {name: {"error": f"{type(exc).__name__}: {exc}"} for name in QUERIES}
            for name, answer in result.items():
                line = {"query": name, **(answer if isinstance(answer, dict) else {"answer": answer})}
                log.write(json.dumps(line, default=str) + "\n")
            log.flush()
            time.sleep(0.2)


if __name__ == "__main__":
    main(*sys.argv[1:5])
