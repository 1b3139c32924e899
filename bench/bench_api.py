"""Point look-up latency of the snapshot API: a real `trust-dw serve` on loopback, a real HTTP client.

    .venv/bin/python bench/bench_api.py [--requests 2000] [--shops 20000] [--products 200000] [--days 30]

Uses the real exports under $TRUST_DW_HOME/exports when shop_scores_daily and product_tiers_daily are
published there; otherwise writes synthetic medium-sized exports (default 20k shops, 200k products, 30 ds)
once into --work (reused on the next run) and serves those. Prints cold (first look-up of a partition:
reads and indexes it) and warm latencies (p50/p95/p99/max) and the sequential request rate.
Bounded: N requests, one client, loopback only; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the synthetic export writer shared with the tests

from synthetic_exports import write_scaled_exports  # noqa: E402
from trust_dw.config import Settings  # noqa: E402
from trust_dw.snapshots import PublishedTable, SnapshotStore  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ids_of(store: SnapshotStore, table: PublishedTable, column: str, ds: date, limit: int) -> list[str]:
    part = store.partition(table, ds)
    assert part is not None
    return [str(v) for v in part.read(columns=[column]).column(column).to_pylist()[:limit]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--shops", type=int, default=20_000)
    ap.add_argument("--products", type=int, default=200_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--work", type=Path, default=Path("/tmp/trust_dw_bench_api"))
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()

    home = Settings.from_env().home
    store = SnapshotStore(home / "exports")
    tables = (PublishedTable.shop_scores_daily, PublishedTable.product_tiers_daily)
    if all(store.dates(t) for t in tables):
        source = f"real exports under {home}"
    else:
        home = args.work / f"s{args.shops}-p{args.products}-d{args.days}"
        store = SnapshotStore(home / "exports")
        if not all(len(store.dates(t)) == args.days for t in tables):
            started = time.perf_counter()
            write_scaled_exports(home / "exports", args.shops, args.products, args.days, date(2026, 1, 1))
            print(f"wrote synthetic exports in {time.perf_counter() - started:.1f} s")
        source = f"synthetic exports ({args.shops:,} shops, {args.products:,} products, {args.days} ds)"

    shop_dates = store.dates(PublishedTable.shop_scores_daily)
    product_dates = store.dates(PublishedTable.product_tiers_daily)
    latest_shop = store.latest(PublishedTable.shop_scores_daily)
    latest_product = store.latest(PublishedTable.product_tiers_daily)
    assert latest_shop and latest_product
    shop_ids = ids_of(store, PublishedTable.shop_scores_daily, "shop_id", latest_shop, 100_000)
    product_ids = ids_of(store, PublishedTable.product_tiers_daily, "product_id", latest_product, 1_000_000)
    rows = {t: store.partition(t, store.latest(t)).rows for t in tables}  # type: ignore[union-attr]

    port = free_port()
    env = {**os.environ, "TRUST_DW_HOME": str(home)}
    cli = Path(sys.executable).with_name("trust-dw")
    server = subprocess.Popen(
        [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    rng = random.Random(args.seed)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(300):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise SystemExit("server did not start")

            def timed(url: str, params: dict | None = None) -> float:
                t0 = time.perf_counter()
                resp = client.get(url, params=params)
                elapsed = (time.perf_counter() - t0) * 1000
                assert resp.status_code == 200, (url, resp.status_code, resp.text[:200])
                return elapsed

            # Cold: the first look-up of a (table, ds) reads and indexes the partition.
            cold_shop = timed(f"/v1/shops/{shop_ids[0]}/score")
            cold_product = timed(f"/v1/products/{product_ids[0]}/tier")

            # Warm: random ids on the latest ds (the usual downstream call).
            warm_shop = [timed(f"/v1/shops/{rng.choice(shop_ids)}/score") for _ in range(args.requests // 2)]
            warm_product = [
                timed(f"/v1/products/{rng.choice(product_ids)}/tier") for _ in range(args.requests // 2)
            ]

            # History: random ds too (every partition ends up cached; the LRU keeps 32).
            history_ds = [d.isoformat() for d in product_dates[-8:]]
            started = time.perf_counter()
            history = [
                timed(f"/v1/products/{rng.choice(product_ids)}/tier", {"ds": rng.choice(history_ds)})
                for _ in range(args.requests // 2)
            ]
            history_rate = len(history) / (time.perf_counter() - started)
    finally:
        server.terminate()
        server.wait(timeout=10)

    def line(name: str, xs: list[float]) -> str:
        return (
            f"{name:<34} n={len(xs):>5}  p50={statistics.median(xs):6.2f} ms"
            f"  p95={percentile(xs, 0.95):6.2f} ms  p99={percentile(xs, 0.99):6.2f} ms  max={max(xs):7.2f} ms"
        )

    print(f"source: {source}")
    print(
        f"latest partitions: shop_scores_daily {rows[tables[0]]:,} rows ({len(shop_dates)} ds), "
        f"product_tiers_daily {rows[tables[1]]:,} rows ({len(product_dates)} ds)"
    )
    print(
        f"cold first look-up: shop {cold_shop:.1f} ms, product {cold_product:.1f} ms"
        " (reads and indexes the partition)"
    )
    print(line("warm GET /v1/shops/{id}/score", warm_shop))
    print(line("warm GET /v1/products/{id}/tier", warm_product))
    print(line("GET /v1/products/{id}/tier?ds= (8 ds)", history))
    print(
        f"sequential rate over 8 ds (one client; includes the first load of 7 more ds):"
        f" {history_rate:.0f} req/s"
    )


if __name__ == "__main__":
    main()
