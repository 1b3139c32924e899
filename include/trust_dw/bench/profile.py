"""Where a dbt model's time goes: its compiled SELECT run again, read-only, under DuckDB's JSON profiler.

``trust-dw bench-profile`` (bench/README.md, "Profiling a model"). After a benchmark (or any run) the
home's ``dbt/target`` holds the manifest, ``run_results.json`` and every model's compiled SQL of the last
ds. For each selected model this module runs that SQL again on the working file, opened read-only with the
project's memory, temp and thread settings, drains the result, and reads DuckDB's profile: the query's
wall and CPU seconds, its peak buffer memory and spill, the rows each table scan read, and the operators
that took the most time (seconds summed over DuckDB's threads).

What it measures is the model's SELECT on the state *after* the run, not the node's write (insert, delete,
commit, checkpoint). For a table or view model the inputs have not changed since the run, so the figure is
the node's query. An incremental model's inputs have moved on (the run merged its own rows), so its
figures are indicative only; the report says so next to them.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trust_dw.config import Settings
from trust_dw.dbt_runner import dbt_target_dir
from trust_dw.warehouse import connect

MiB = 1024 * 1024


@dataclass
class OperatorTiming:
    """One operator of the profiled plan."""

    type: str
    seconds: float  # summed over DuckDB's threads
    rows_in: int  # rows its children produced (0 for a scan)
    rows: int  # rows the operator produced
    detail: str  # the table of a scan, the groups of an aggregate, the condition of a join


@dataclass
class ModelProfile:
    """The profile of one model's compiled SELECT."""

    name: str
    materialized: str
    build_s: float | None  # the node's execution time in the run (run_results.json), when it ran
    wall_s: float
    cpu_s: float
    rows_returned: int
    peak_buffer_mib: float
    spill_mib: float
    scans: dict[str, int] = field(default_factory=dict)  # table -> rows read by its scans
    operators: list[OperatorTiming] = field(default_factory=list)  # slowest first

    def to_json(self) -> dict[str, Any]:
        doc = dict(self.__dict__)
        doc["operators"] = [o.__dict__ for o in self.operators]
        return doc


def _table_name(qualified: str) -> str:
    """``schema.table`` of a scan's ``database.schema.table``."""
    return ".".join(qualified.split(".")[-2:])


def _artefacts(settings: Settings) -> tuple[dict[str, Any], dict[str, float]]:
    """The manifest's models by name, and each node's execution seconds in the last run."""
    target = dbt_target_dir(settings)
    manifest_path = target / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path}: no dbt manifest; run the pipeline in this home first")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    models = {
        node["name"]: node
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") == "model"
    }
    seconds: dict[str, float] = {}
    results_path = target / "run_results.json"
    if results_path.is_file():
        for result in json.loads(results_path.read_text(encoding="utf-8")).get("results", []):
            if result["unique_id"].startswith("model."):
                seconds[result["unique_id"].split(".")[-1]] = float(result.get("execution_time") or 0.0)
    return models, seconds


def slowest_models(settings: Settings, count: int) -> list[str]:
    """The ``count`` models that took longest in the last run (run_results.json)."""
    _, seconds = _artefacts(settings)
    return [name for name, _ in sorted(seconds.items(), key=lambda item: -item[1])[:count]]


def compiled_sql(settings: Settings, node: dict[str, Any]) -> str:
    """The model's SELECT as dbt compiled it in the last run (``target/compiled/<package>/<path>``)."""
    path = dbt_target_dir(settings) / "compiled" / node["package_name"] / node["original_file_path"]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model {node['name']} was not compiled in the last run")
    return path.read_text(encoding="utf-8")


def _detail(node: dict[str, Any]) -> str:
    info = node.get("extra_info") or {}
    if node.get("type") in ("HASH_GROUP_BY", "PERFECT_HASH_GROUP_BY") and info.get("Groups"):
        groups = info["Groups"]
        keys = len(groups) if isinstance(groups, list) else len(str(groups).split())
        aggregates = info.get("Aggregates") or ""
        aggregates = " ".join(aggregates) if isinstance(aggregates, list) else str(aggregates)
        return " ".join(f"{keys} key(s); {aggregates}".split())[:90]
    for key in ("Table", "Conditions", "Join Type", "Function"):
        value = info.get(key)
        if value:
            text = " ".join(value) if isinstance(value, list) else str(value)
            if key == "Table":
                text = _table_name(text)
            return " ".join(text.split())[:90]
    return ""


def _walk(node: dict[str, Any], operators: list[OperatorTiming], scans: dict[str, int]) -> None:
    kind = str(node.get("type") or "?")
    operators.append(
        OperatorTiming(
            type=kind,
            seconds=round(float(node.get("timing") or 0.0), 4),
            rows_in=sum(int(child.get("intermediate_rows") or 0) for child in node.get("children", [])),
            rows=int(node.get("intermediate_rows") or 0),
            detail=_detail(node),
        )
    )
    table = (node.get("extra_info") or {}).get("Table")
    if kind == "TABLE_SCAN" and table:
        name = _table_name(str(table))
        scans[name] = scans.get(name, 0) + int(node.get("rows_scanned") or 0)
    for child in node.get("children", []):
        _walk(child, operators, scans)


def profile_sql(settings: Settings, sql: str) -> dict[str, Any]:
    """Run ``sql`` read-only under the JSON profiler, drain its rows; the profile as a dict."""
    handle, name = tempfile.mkstemp(suffix=".json", prefix="trust_dw_profile_")
    out = Path(name)
    try:
        os.close(handle)
        with connect(settings, read_only=True) as con:
            con.execute("pragma enable_profiling = 'json'")
            con.execute(f"pragma profiling_output = '{out}'")
            rows = 0
            reader = con.sql(sql).to_arrow_reader(batch_size=1 << 17)
            for batch in reader:
                rows += batch.num_rows
            del reader
            con.execute("pragma disable_profiling")
        tree = json.loads(out.read_text(encoding="utf-8"))
    finally:
        out.unlink(missing_ok=True)
    tree["drained_rows"] = rows
    return tree


def profile_model(settings: Settings, name: str, operators: int = 8) -> ModelProfile:
    models, seconds = _artefacts(settings)
    if name not in models:
        raise KeyError(f"no model named {name!r} in {dbt_target_dir(settings) / 'manifest.json'}")
    node = models[name]
    tree = profile_sql(settings, compiled_sql(settings, node))
    found: list[OperatorTiming] = []
    scans: dict[str, int] = {}
    for op in tree.get("operator", []):
        _walk(op, found, scans)
    query = tree.get("query") or {}
    system = tree.get("system") or {}
    found = [o for o in found if o.type != "RESULT_COLLECTOR"]
    found.sort(key=lambda o: -o.seconds)
    return ModelProfile(
        name=name,
        materialized=str((node.get("config") or {}).get("materialized")),
        build_s=seconds.get(name),
        wall_s=round(float(query.get("total_time") or 0.0), 3),
        cpu_s=round(float(query.get("cpu_time") or 0.0), 3),
        rows_returned=int(tree["drained_rows"]),
        peak_buffer_mib=round(float(system.get("peak_buffer_memory") or 0) / MiB, 1),
        spill_mib=round(float(system.get("peak_temp_dir_size") or 0) / MiB, 1),
        scans=scans,
        operators=found[:operators],
    )


def markdown(settings: Settings, profiles: list[ModelProfile]) -> str:
    """The profiles as Markdown: one summary table, then each model's slowest operators and its scans."""
    lines = [
        f"# Model profiles — {settings.home}",
        "",
        f"Each model's compiled SELECT of the last run, run again read-only (memory_limit "
        f"{settings.memory_limit}, threads {settings.threads}); operator seconds are summed over threads.",
        "",
        "| model | materialized | build s (run) | query wall s | query CPU s | rows | peak buffer MiB "
        "| spill MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for p in profiles:
        build = "" if p.build_s is None else f"{p.build_s:.2f}"
        lines.append(
            f"| {p.name} | {p.materialized} | {build} | {p.wall_s:.2f} | {p.cpu_s:.2f} | {p.rows_returned:,} "
            f"| {p.peak_buffer_mib:,.0f} | {p.spill_mib:,.0f} |"
        )
    if any(p.materialized == "incremental" for p in profiles):
        lines += [
            "",
            "An incremental model's SELECT is run on the state after its own write, so its inputs have moved "
            "on: its figures are indicative only.",
        ]
    for p in profiles:
        lines += [
            "",
            f"## {p.name}",
            "",
            "| operator | s | rows in | rows out | on |",
            "|---|---:|---:|---:|---|",
        ]
        lines += [
            f"| {o.type} | {o.seconds:.2f} | {o.rows_in:,} | {o.rows:,} | {o.detail} |" for o in p.operators
        ]
        if p.scans:
            scans = ", ".join(f"{t} {n:,}" for t, n in sorted(p.scans.items(), key=lambda i: -i[1]))
            lines += ["", f"Rows read by table scans: {scans}."]
    return "\n".join(lines) + "\n"
