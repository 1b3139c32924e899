"""What was published for a ds, as `make demo` and `trust-dw published --ds D` print it.

Everything is read the way a consumer would: the gate verdict from ``gx/gate/ds=<ds>.json``, the numbers
through the serving DuckDB file (read-only), the partitions from their manifests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from trust_dw.config import Settings
from trust_dw.publish import MANIFEST_FILE, PUBLISHED_TABLES, latest_ds, partition_dir, verify_partition
from trust_dw.quality import GateResult, read_gate_result

TOP_RECIPIENTS = 3


class NotPublished(LookupError):
    """The ds has no complete published partition."""


@dataclass
class PartSummary:
    """One recipient type of a pool (or its reserve): how many recipients, their impressions, the top ones."""

    pool_id: str
    recipient_type: str
    recipients: int = 0
    impressions: int = 0
    top: list[tuple[str, int]] = field(default_factory=list)  # (recipient_id, impressions)


@dataclass
class PoolSummary:
    pool_id: str
    budget: int = 0  # Σ impressions of the pool, reserve included (= its daily budget after the gate)
    parts: list[PartSummary] = field(default_factory=list)


@dataclass
class PublishedSummary:
    ds: str
    gate: GateResult | None
    rows: dict[str, int]
    partitions_ok: dict[str, bool]
    products_per_tier: list[tuple[str, int]]
    shops_per_grade: list[tuple[str, int]]
    pools: list[PoolSummary]
    serving_path: Path
    exports_dir: Path
    data_docs: Path | None
    latest: dict[str, str | None] = field(default_factory=dict)


def summarize(settings: Settings, ds: str | None = None) -> PublishedSummary:
    """Collect the summary of ``ds`` (default: the LATEST published ds)."""
    ds = ds or latest_ds(settings, PUBLISHED_TABLES[0])
    if ds is None:
        raise NotPublished(f"nothing is published under {settings.exports_dir}")
    checks = {table: verify_partition(settings, table, ds) for table in PUBLISHED_TABLES}
    if not any(check.ok for check in checks.values()):
        raise NotPublished(
            f"ds={ds} is not published (LATEST is {latest_ds(settings, PUBLISHED_TABLES[0])}): "
            + "; ".join(p for check in checks.values() for p in check.problems[:1])
        )
    rows = {}
    for table in PUBLISHED_TABLES:
        manifest = partition_dir(settings, table, ds) / MANIFEST_FILE
        rows[table] = json.loads(manifest.read_text())["rows"] if manifest.exists() else 0
    con = duckdb.connect(str(settings.serving_path), read_only=True)
    try:
        tiers = con.execute(
            "select tier, count(*) from product_tiers_daily where ds = cast(? as date) group by 1 order by 1",
            [ds],
        ).fetchall()
        grades = con.execute(
            "select grade, count(*) from shop_scores_daily where ds = cast(? as date) "
            "group by 1 order by min(experience_score) desc nulls last",
            [ds],
        ).fetchall()
        allocation = con.execute(
            """
            select pool_id, recipient_type, recipient_id, impressions
            from flow_allocation_daily
            where ds = cast(? as date)
            order by pool_id, recipient_type = 'reserve', recipient_type, impressions desc, recipient_id
            """,
            [ds],
        ).fetchall()
    finally:
        con.close()
    pools: dict[str, PoolSummary] = {}
    for pool_id, rtype, rid, impressions in allocation:
        pool = pools.setdefault(pool_id, PoolSummary(pool_id))
        pool.budget += impressions
        if not pool.parts or pool.parts[-1].recipient_type != rtype:
            pool.parts.append(PartSummary(pool_id, rtype))
        part = pool.parts[-1]
        part.recipients += rtype != "reserve"
        part.impressions += impressions
        if rtype != "reserve" and len(part.top) < TOP_RECIPIENTS:
            part.top.append((rid, impressions))
    gate = read_gate_result(settings, ds)
    return PublishedSummary(
        ds=ds,
        gate=gate,
        rows=rows,
        partitions_ok={table: check.ok for table, check in checks.items()},
        products_per_tier=tiers,
        shops_per_grade=grades,
        pools=list(pools.values()),
        serving_path=settings.serving_path,
        exports_dir=settings.exports_dir,
        data_docs=gate.data_docs if gate else None,
        latest={table: latest_ds(settings, table) for table in PUBLISHED_TABLES},
    )


def render(summary: PublishedSummary) -> Group:
    """The summary as rich renderables (tables and a few lines)."""
    parts: list = []
    gate = summary.gate
    if gate is None:
        parts.append(Text(f"Quality gate: no verdict on disk for ds={summary.ds}", style="yellow"))
    else:
        style = "green" if gate.passed else "red"
        verdict = "passed" if gate.passed else "FAILED: " + ", ".join(gate.failed)
        line = f"Quality gate for ds={summary.ds}: {verdict} ({len(gate.checks)} expectations"
        line += f", {len(gate.warnings)} warnings: {', '.join(gate.warnings)})" if gate.warnings else ")"
        parts.append(Text(line, style=style))

    published = Table(title=f"Published snapshots, ds={summary.ds}", title_justify="left")
    for column in ("table", "rows", "manifest check", "LATEST"):
        published.add_column(column)
    for table, rows in summary.rows.items():
        ok = "ok" if summary.partitions_ok[table] else "[red]BROKEN[/red]"
        published.add_row(table, f"{rows:,}", ok, summary.latest.get(table) or "-")
    parts.append(published)

    tiers = Table(title="Products per tier", title_justify="left")
    tiers.add_column("tier")
    tiers.add_column("products", justify="right")
    for tier, n in summary.products_per_tier:
        tiers.add_row(tier, f"{n:,}")
    grades = Table(title="Shops per grade", title_justify="left")
    grades.add_column("grade")
    grades.add_column("shops", justify="right")
    for grade, n in summary.shops_per_grade:
        grades.add_row(grade, f"{n:,}")
    parts.extend([tiers, grades])

    flow = Table(title=f"Flow allocation (effective the day after {summary.ds})", title_justify="left")
    for column, justify in (
        ("pool", "left"),
        ("part", "left"),
        ("recipients", "right"),
        ("impressions", "right"),
    ):
        flow.add_column(column, justify=justify)
    flow.add_column(f"top {TOP_RECIPIENTS} (impressions)")
    for pool in summary.pools:
        for part in pool.parts:
            top = "\n".join(f"{rid} {imp:,}" for rid, imp in part.top)
            recipients = "" if part.recipient_type == "reserve" else f"{part.recipients:,}"
            flow.add_row(part.pool_id, part.recipient_type, recipients, f"{part.impressions:,}", top)
        flow.add_row(pool.pool_id, "[b]total[/b]", "", f"[b]{pool.budget:,}[/b]", "", end_section=True)
    parts.append(flow)

    parts.append(Text(f"Serving file (BI, read-only): {summary.serving_path}"))
    parts.append(Text(f"Snapshots: {summary.exports_dir}/<table>/ds={summary.ds}/part-0.parquet"))
    if summary.data_docs:
        parts.append(Text(f"Data Docs: {summary.data_docs}"))
    return Group(*parts)


def print_published_summary(
    settings: Settings, ds: str | None = None, console: Console | None = None
) -> None:
    """Print the summary of ``ds`` (default LATEST); what `make demo` shows at the end of a run."""
    (console or Console()).print(render(summarize(settings, ds)))
