"""One business date, run and measured in this process (the driver runs each ds in a child process).

The stage functions are the pipeline's own (``trust_dw.ingest.ingest_feed`` per feed on one connection, as
``ingest_ds`` does; ``trust_dw.dbt_runner.build``; ``trust_dw.quality.validate``;
``trust_dw.publish.publish``), called one by one so each can be timed; dbt is broken down per model
group from its ``run_results.json``.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trust_dw.bench.measure import Sampler, StageRecord, cpu_ticks, measure, own_peak_rss_kib, steal_percent
from trust_dw.bench.verify import Check, verify_day
from trust_dw.config import Settings


@dataclass
class DayRecord:
    ds: str
    day_index: int  # 1 = the first generated day
    ok: bool
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    spill_mib: float
    stages: list[StageRecord]  # every timed piece, ingest per feed and dbt per group
    totals: dict[str, float]  # wall seconds per pipeline stage: ingest, dbt, gate, publish
    rows: dict[str, int]  # rows_read (landing), rows_loaded, rows_published
    published: dict[str, int]  # rows per published table
    checks: list[Check] = field(default_factory=list)
    dbt_nodes: list[dict[str, Any]] = field(default_factory=list)  # slowest nodes
    rerun: bool = False  # the ds had been run before in this home (ingest forced to reload)
    load_avg: tuple[float, float] = (0.0, 0.0)  # 1-min load average at start and end
    error: str | None = None
    started_at: str = ""
    # % of the machine's CPU time the hypervisor took during the day (``/proc/stat`` steal): a shared VM's
    # wall times grow with it, so figures from runs with different steal do not compare
    cpu_steal_pct: float | None = None

    @property
    def verified(self) -> bool:
        return self.ok and bool(self.checks) and all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["verified"] = self.verified
        for stage, record in zip(out["stages"], self.stages, strict=True):
            stage["rows_per_s"] = None if record.rows_per_s is None else round(record.rows_per_s)
        return out

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> DayRecord:
        doc = {k: v for k, v in doc.items() if k != "verified"}
        doc["stages"] = [
            StageRecord(**{k: v for k, v in s.items() if k != "rows_per_s"}) for s in doc["stages"]
        ]
        doc["checks"] = [Check(**c) for c in doc.get("checks", [])]
        doc["load_avg"] = tuple(doc.get("load_avg") or (0.0, 0.0))
        return cls(**doc)


def force_reload(settings: Settings, ds: str) -> None:
    """Make a rerun of ds cost what a new day costs, so that re-measuring a ds is honest.

    - Ingest skips a (feed, ds) whose files have the same paths and sha256 as its last load; forgetting
      those hashes (``ingest.loaded_files`` of the ds) makes it load and replace the partition again.
    - dbt reuses its parse when ``--vars`` are those of the previous invocation (a rerun of the same ds),
      but a new day changes ``ds`` and dbt parses the whole project again; removing
      ``partial_parse.msgpack`` makes the rerun parse in full too.

    The data and every other table are left as they are.
    """
    import duckdb

    from trust_dw.dbt_runner import dbt_target_dir
    from trust_dw.warehouse import connect

    (dbt_target_dir(settings) / "partial_parse.msgpack").unlink(missing_ok=True)
    if not settings.warehouse_path.exists():
        return
    with connect(settings) as con, suppress(duckdb.CatalogException):  # never loaded: nothing to forget
        con.execute("delete from ingest.loaded_files where ds = cast($ds as date)", {"ds": ds})


_GROUP_ORDER = (
    "dbt seeds",
    "dbt snapshots",
    "dbt staging",
    "dbt core",
    "dbt intermediate/warehouse",
    "dbt intermediate/scores",
    "dbt marts/scores",
    "dbt intermediate/flow",
    "dbt marts/flow",
    "dbt data tests",
)


def _group_order(name: str) -> tuple[int, str]:
    return (_GROUP_ORDER.index(name) if name in _GROUP_ORDER else len(_GROUP_ORDER), name)


def dbt_group(unique_id: str, node: dict[str, Any]) -> str:
    """The report group of a dbt node: seeds, snapshots, data tests, or the model's folder (2 levels)."""
    kind = node.get("resource_type") or unique_id.split(".")[0]
    if kind == "seed":
        return "dbt seeds"
    if kind == "snapshot":
        return "dbt snapshots"
    if kind in ("test", "unit_test"):
        return "dbt data tests"
    parts = Path(node.get("original_file_path", "models/other/x.sql")).parts[1:-1]
    if not parts:
        return "dbt models"
    if parts[0] in ("staging", "core"):
        return f"dbt {parts[0]}"
    return "dbt " + "/".join(parts[:2])


def _dbt_groups(settings: Settings, ds: str, dbt_wall: float) -> tuple:
    """Per model group of the build: wall span, node seconds, rows; the slowest nodes. From dbt artefacts."""
    from trust_dw.dbt_runner import dbt_target_dir

    target = dbt_target_dir(settings)
    run_results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    nodes = manifest.get("nodes", {})
    groups: dict[str, dict[str, Any]] = {}
    slow: list[dict[str, Any]] = []
    all_spans: list[tuple[float, float]] = []
    for result in run_results["results"]:
        uid = result["unique_id"]
        node = nodes.get(uid, {})
        group = dbt_group(uid, node)
        spans = [
            (_ts(t["started_at"]), _ts(t["completed_at"]))
            for t in result.get("timing", [])
            if t.get("started_at") and t.get("completed_at")
        ]
        span = (min(s for s, _ in spans), max(e for _, e in spans)) if spans else None
        g = groups.setdefault(group, {"spans": [], "node_s": 0.0, "nodes": 0, "relations": []})
        g["nodes"] += 1
        g["node_s"] += float(result.get("execution_time") or 0.0)
        if span:
            g["spans"].append(span)
            all_spans.append(span)
        if node.get("resource_type") in ("model", "seed", "snapshot") and node.get("relation_name"):
            materialized = (node.get("config") or {}).get("materialized")
            if materialized != "view":
                g["relations"].append((node["schema"], node.get("alias") or node["name"]))
        slow.append(
            {
                "node": uid.split(".", 2)[-1] if uid.startswith("test.") else uid.split(".")[-1],
                "type": node.get("resource_type", uid.split(".")[0]),
                "group": group,
                "seconds": round(float(result.get("execution_time") or 0.0), 3),
                "status": str(result.get("status")),
            }
        )
    rows = _relation_rows(settings, ds, [r for g in groups.values() for r in g["relations"]])
    records = []
    for name in sorted(groups, key=_group_order):
        g = groups[name]
        records.append(
            StageRecord(
                name=name,
                wall_s=round(union_seconds(g["spans"]), 3),
                rows_out=sum(rows.get(r, 0) for r in g["relations"]) if g["relations"] else None,
                detail=f"{g['nodes']} nodes, {g['node_s']:.1f} node-s",
            )
        )
    busy = union_seconds(all_spans)
    records.append(
        StageRecord(
            name="dbt overhead",
            wall_s=round(max(dbt_wall - busy, 0.0), 3),
            detail="parse, manifest, connections: dbt wall time outside every node's run",
        )
    )
    slow.sort(key=lambda n: -n["seconds"])
    return records, slow[:25]


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def union_seconds(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, None
    for s, e in sorted(spans):
        if end is None or s > end:
            total += e - s
            end = e
        elif e > end:
            total += e - end
            end = e
    return total


# Columns that say which rows of a history table belong to the ds just built, in order of preference.
_DS_COLUMNS = ("ds", "last_change_ds", "_ds")


def _relation_rows(settings: Settings, ds: str, relations: list[tuple[str, str]]) -> dict[tuple, int]:
    """Rows of each relation written for ds: those of the ds where a ds column exists, else all rows."""
    from trust_dw.warehouse import connect

    out: dict[tuple, int] = {}
    if not relations:
        return out
    with connect(settings, read_only=True) as con:
        columns: dict[tuple, set[str]] = {}
        for schema, table, column in con.execute(
            "select table_schema, table_name, column_name from information_schema.columns"
        ).fetchall():
            columns.setdefault((schema, table), set()).add(column)
        for relation in relations:
            cols = columns.get(relation)
            if cols is None:
                continue
            where = next((c for c in _DS_COLUMNS if c in cols), None)
            sql = f'select count(*) from "{relation[0]}"."{relation[1]}"'
            if where:
                sql += f' where "{where}" = cast($ds as date)'
            out[relation] = int(con.execute(sql, {"ds": ds} if where else {}).fetchone()[0])
    return out


def run_day(settings: Settings, ds: str, day_index: int, rerun: bool) -> DayRecord:
    """Run the pipeline for ds in this process, stage by stage, measured; then verify (not timed)."""
    from trust_dw import dbt_runner, publish, quality
    from trust_dw.feeds import FEED_NAMES
    from trust_dw.ingest import ingest_feed
    from trust_dw.warehouse import connect

    settings.ensure_dirs()
    stages: list[StageRecord] = []
    totals: dict[str, float] = {}
    rows: dict[str, int] = {}
    published: dict[str, int] = {}
    error = None
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    load_start = os.getloadavg()[0]
    ticks_start = cpu_ticks()
    hwm: list[float] = []
    wall, cpu = time.perf_counter(), time.process_time()
    dbt_details: tuple[list[StageRecord], list[dict]] = ([], [])
    with Sampler(settings.duckdb_temp_dir) as sampler:
        try:
            # 1. ingest: every feed on one connection, as trust_dw.ingest.ingest_ds does
            t0 = time.perf_counter()
            results = []
            con = connect(settings)
            try:
                for feed in FEED_NAMES:
                    with measure(f"ingest {feed}", sampler, stages) as st:
                        result = ingest_feed(settings, feed, ds, con)
                        st.rows_in, st.rows_out = result.rows_read, result.rows_loaded
                        st.detail = f"{result.status}, {result.rows_quarantined} quarantined"
                    results.append(result)
            finally:
                con.close()
            totals["ingest"] = round(time.perf_counter() - t0, 3)
            rows["rows_read"] = sum(r.rows_read for r in results)
            rows["rows_loaded"] = sum(r.rows_loaded for r in results)
            bad = [r for r in results if r.status not in ("loaded", "unchanged")]
            if bad:
                raise RuntimeError(f"ingest: {[(r.feed, r.status, r.message) for r in bad]}")

            # 2. one dbt build (seeds, snapshots, models, data tests)
            with measure("dbt build", sampler, stages) as st:
                dbt_result = dbt_runner.build(settings, ds)
                st.rows_in = rows["rows_loaded"]
                reparse = dbt_result.full_parse_reason
                st.detail = f"full project parse: {reparse}" if reparse else "saved parse reused"
            dbt_stage = stages[-1]
            totals["dbt"] = dbt_stage.wall_s
            dbt_details = _dbt_groups(settings, ds, dbt_stage.wall_s)

            # 3. the gate
            with measure("gate", sampler, stages) as st:
                gate = quality.validate(settings, ds)
                st.rows_in = sum(int(f["rows"]) for f in gate.fingerprints.values())
                st.detail = f"{len(gate.checks)} expectations, {len(gate.warnings)} warnings"
            totals["gate"] = stages[-1].wall_s

            # 4. publish
            with measure("publish", sampler, stages) as st:
                result = publish.publish(settings, ds, run_id=f"bench__{ds}")
                published = {p.table: p.rows for p in result.partitions}
                st.rows_in = st.rows_out = sum(published.values())
            totals["publish"] = stages[-1].wall_s
            rows["rows_published"] = sum(published.values())
            dbt_stage.rows_out = rows["rows_published"]
        except Exception as exc:  # recorded and reported; the bench run fails
            error = f"{type(exc).__name__}: {exc}"
        hwm = [s.peak_rss_mib or 0.0 for s in stages]
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    record = DayRecord(
        ds=ds,
        day_index=day_index,
        ok=error is None,
        wall_s=round(wall, 3),
        cpu_s=round(cpu, 3),
        peak_rss_mib=round(max([*hwm, own_peak_rss_kib() / 1024]), 1),
        spill_mib=max([s.spill_mib or 0.0 for s in stages] or [0.0]),
        stages=_with_dbt_groups(stages, dbt_details[0]),
        totals=totals,
        rows=rows,
        published=published,
        dbt_nodes=dbt_details[1],
        rerun=rerun,
        load_avg=(round(load_start, 2), round(os.getloadavg()[0], 2)),
        error=error,
        started_at=started_at,
        cpu_steal_pct=steal_percent(ticks_start, cpu_ticks()),
    )
    if error is None:
        record.checks = verify_day(settings, ds)
    return record


def _with_dbt_groups(stages: list[StageRecord], groups: list[StageRecord]) -> list[StageRecord]:
    out: list[StageRecord] = []
    for stage in stages:
        out.append(stage)
        if stage.name == "dbt build":
            out.extend(groups)
    return out
