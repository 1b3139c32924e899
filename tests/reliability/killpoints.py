"""Named kill points: run the real ``trust-dw`` CLI and SIGKILL it at one named point of the pipeline.

    python tests/reliability/killpoints.py <point>[#n] -- <trust-dw arguments>

No production module carries a test hook. In this child process only, the harness wraps one real function
of the pipeline (or listens to dbt's event stream); the wrapped function runs for real and the process then
kills itself with SIGKILL — no ``finally``, no ``atexit``, no buffered write flushed: what the OOM killer or a
lost node leaves behind. ``#n`` picks the n-th time the point is reached in this process (default 1).

Exit status: killed by SIGKILL (-9 as ``subprocess`` reports it) when the point fired; 97 when the run ended
(or failed) without reaching it, so a test can tell "never fired" from "killed there".
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NEVER_FIRED = 97

Match = Callable[[tuple, dict], bool]


def _always(args: tuple, kwargs: dict) -> bool:
    return True


def _path_arg(position: int, test: Callable[[Path], bool]) -> Match:
    """Match on the Path-like positional argument ``position`` (e.g. the destination of a rename)."""

    def match(args: tuple, kwargs: dict) -> bool:
        return len(args) > position and test(Path(os.fsdecode(args[position])))

    return match


def _sql_arg(*needles: str) -> Match:
    def match(args: tuple, kwargs: dict) -> bool:
        sql = str(args[1] if len(args) > 1 else kwargs.get("sql", "")).lower()
        return all(n in sql for n in needles)

    return match


@dataclass(frozen=True)
class KillPoint:
    """Kill ``when`` ("before"/"after") a call of ``target`` ("module:attribute[.method]") that ``match``es;
    or, for dbt, when dbt emits event ``dbt_event`` for node ``dbt_node``."""

    name: str
    what: str
    target: str = ""
    when: str = "after"
    match: Match = _always
    dbt_event: str = ""
    dbt_node: str = ""

    @property
    def stage(self) -> str:
        return self.name.split(":", 1)[0]


def _dbt(name: str, what: str, event: str, node: str) -> KillPoint:
    return KillPoint(name, what, dbt_event=event, dbt_node=node)


_is_partition = _path_arg(1, lambda p: p.name.startswith("ds="))
_is_staging = _path_arg(0, lambda p: p.name.startswith(".staging-"))
_is_verdict = _path_arg(1, lambda p: p.parent.name == "gate")
_is_latest = _path_arg(1, lambda p: p.name == "LATEST")
_is_serving = _path_arg(1, lambda p: p.parent.name == "serving")
LOADER, LEDGER = "trust_dw.ingest.loader", "trust_dw.ingest.ledger"
QUALITY, PUBLISH = "trust_dw.quality", "trust_dw.publish"
ADD_QUERY = "dbt.adapters.sql.connections:SQLConnectionManager.add_query"
M = "model.trust_dw."

POINTS: dict[str, KillPoint] = {
    p.name: p
    for p in (
        # --- ingest (trust_dw.ingest): each feed's load is one DuckDB transaction ---------------------
        KillPoint("ingest:file_read", "a feed's files read, nothing written", f"{LOADER}:read_file"),
        KillPoint(
            "ingest:mid_transaction",
            "raw partition deleted and re-inserted, ledger not written, transaction open",
            f"{LEDGER}:write_ledger",
            "before",
        ),
        KillPoint("ingest:feed_committed", "a feed's swap committed", f"{LEDGER}:replace_partition"),
        KillPoint(
            "ingest:before_swap",
            "a feed checked, its swap not begun",
            f"{LEDGER}:replace_partition",
            "before",
        ),
        # --- dbt build (dbt's own events; the SQL dbt-duckdb sends) ------------------------------------
        _dbt(
            "dbt:seed_loaded",
            "the anchors seed loaded",
            "NodeFinished",
            "seed.trust_dw.score_indicator_anchors",
        ),
        _dbt(
            "dbt:snapshot_running",
            "an SCD2 snapshot starting",
            "NodeStart",
            "snapshot.trust_dw.snap_products",
        ),
        KillPoint(
            "dbt:fct_orders_mid_merge",
            "fct_orders' delete+insert: the delete executed, the insert not",
            ADD_QUERY,
            "after",
            _sql_arg("delete from", "fct_orders"),
        ),
        _dbt("dbt:marts_running", "shop_scores_daily starting", "NodeStart", f"{M}shop_scores_daily"),
        _dbt(
            "dbt:allocation_running",
            "the Python allocation model starting",
            "NodeStart",
            f"{M}int_flow_allocation",
        ),
        _dbt(
            "dbt:flow_mart_built",
            "flow_allocation_daily built, not tested",
            "NodeFinished",
            f"{M}flow_allocation_daily",
        ),
        # --- the gate (trust_dw.quality) ----------------------------------------------------------------
        KillPoint("gate:context_opened", "candidates read, GX context opened", f"{QUALITY}:_gx_context"),
        KillPoint("gate:mid_suites", "some suites stored and validated", f"{QUALITY}:_gx_suite", "before"),
        KillPoint(
            "gate:verdict_pending",
            "Data Docs built, verdict not renamed in",
            "os:replace",
            "before",
            _is_verdict,
        ),
        KillPoint(
            "gate:verdict_written",
            "the verdict written, run not finished",
            "os:replace",
            "after",
            _is_verdict,
        ),
        # --- publish (trust_dw.publish) -----------------------------------------------------------------
        KillPoint(
            "publish:candidates_read", "candidates read, nothing written", f"{PUBLISH}:read_candidates"
        ),
        KillPoint(
            "publish:parquet_in_staging", "a Parquet file in a staging folder", "pyarrow.parquet:write_table"
        ),
        KillPoint(
            "publish:staging_complete",
            "a staging folder complete, not renamed",
            f"{PUBLISH}:_fsync_dir",
            "after",
            _is_staging,
        ),  # fmt: skip
        KillPoint(
            "publish:partition_renamed",
            "a new partition renamed into place",
            "os:rename",
            "after",
            _is_partition,
        ),
        KillPoint(
            "publish:partition_exchanged",
            "a republished partition swapped in, the old one not deleted",
            f"{PUBLISH}:_exchange",
        ),  # fmt: skip
        KillPoint(
            "publish:before_latest",
            "every partition in place, no LATEST",
            f"{PUBLISH}:update_latest",
            "before",
        ),
        KillPoint("publish:latest_moved", "a table's LATEST moved, others not", f"{PUBLISH}:update_latest"),
        KillPoint(
            "publish:latest_tmp_written",
            "a LATEST temp file, not renamed",
            "os:replace",
            "before",
            _is_latest,
        ),
        KillPoint(
            "publish:serving_half_built", "new serving file attached, no views", f"{PUBLISH}:serving_views"
        ),
        KillPoint(
            "publish:serving_before_swap",
            "new serving file complete, not in",
            "os:replace",
            "before",
            _is_serving,
        ),
        KillPoint(
            "publish:serving_swapped",
            "serving file swapped in, run not over",
            "os:replace",
            "after",
            _is_serving,
        ),
    )
}


def parse(spec: str) -> tuple[KillPoint, int]:
    name, _, nth = spec.partition("#")
    if name not in POINTS:
        raise SystemExit(f"unknown kill point {name!r}; known: {', '.join(POINTS)}")
    return POINTS[name], int(nth or 1)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _counter(nth: int) -> Callable[[], None]:
    hits = [0]

    def hit() -> None:
        hits[0] += 1
        if hits[0] == nth:
            _die()

    return hit


def resolve(target: str) -> tuple[Any, str]:
    module_name, _, attribute = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, name


def arm(point: KillPoint, nth: int) -> None:
    hit = _counter(nth)
    if point.dbt_event:
        import dbt.cli.main

        original_init = dbt.cli.main.dbtRunner.__init__

        def on_event(msg: Any) -> None:
            if msg.info.name == point.dbt_event and msg.data.node_info.unique_id == point.dbt_node:
                hit()

        def init(self: Any, manifest: Any = None, callbacks: list | None = None) -> None:
            original_init(self, manifest, [*(callbacks or []), on_event])

        dbt.cli.main.dbtRunner.__init__ = init
        return
    owner, name = resolve(point.target)
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        matched = point.match(args, kwargs)
        if matched and point.when == "before":
            hit()
        result = original(*args, **kwargs)
        if matched and point.when == "after":
            hit()
        return result

    setattr(owner, name, wrapper)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or "--" not in argv:
        raise SystemExit(__doc__)
    split = argv.index("--")
    point, nth = parse(argv[1])
    arm(point, nth)
    from trust_dw.cli import app

    try:
        code = app(argv[split + 1 :], standalone_mode=False)
    except Exception as exc:  # the CLI failed before the point
        code = f"{type(exc).__name__}: {exc}"
    print(f"killpoints: {point.name}#{nth} never fired (the CLI returned {code!r})", file=sys.stderr)
    return NEVER_FIRED


if __name__ == "__main__":
    sys.exit(main(sys.argv))
