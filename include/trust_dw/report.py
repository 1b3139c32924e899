"""The daily report: one self-contained static HTML page per ds, built from what was published.

``trust-dw report --ds D`` writes ``$TRUST_DW_HOME/exports/_reports/ds=D/report.html`` (temp file + rename):
tier/grade distributions, score histograms, flow-allocation concentration per pool and part (top-10
share, Gini, Lorenz curve), the quality gate's verdict (``gx/gate/ds=D.json``, read with trust_dw.quality),
the ingest ledger of the ds and stage timings when a run ledger (``ops.*``) exists.
Charts are inline SVG; the page needs no network.

The figures come from the published Parquet snapshots (read with an in-memory DuckDB), never from the
candidate tables. The optional ingest/ops sections read the working file read-only and are skipped (with a
note) when it is absent or busy. No wall-clock time goes into the page: the same inputs give the same bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import jinja2

from trust_dw.config import Settings
from trust_dw.quality import CheckOutcome, GateResult, gate_record_path, read_gate_result
from trust_dw.snapshots import Partition, PublishedTable, SnapshotStore
from trust_dw.svg_charts import bar_chart, histogram, lorenz_curve

REPORTS_DIR = "_reports"
SCORE_EDGES = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
GRADES = ["excellent", "good", "fair", "poor"]
SCORE_STATUSES = ["scored", "provisional"]
GROWTH_STAGES = ["new_store", "climbing", "industry_ka", "ska"]
PRODUCT_TIERS = ["L0", "L1", "L2", "L3", "L4", "L5"]
PROVIDER_TIERS = ["S", "A", "B", "C"]
PROVIDER_ACTIONS = ["keep", "warn", "exit"]
RECIPIENT_TYPES = ["shop", "creator", "product"]
LORENZ_POINTS = 100
NULL_LABEL = "(null)"


def report_path(settings: Settings, ds: date) -> Path:
    """``exports/_reports/ds=YYYY-MM-DD/report.html``."""
    return settings.exports_dir / REPORTS_DIR / f"ds={ds.isoformat()}" / "report.html"


# --- figures ---------------------------------------------------------------------------------------
@dataclass
class Distribution:
    """Counts per category, in the category's business order (unexpected values last)."""

    key: str
    title: str
    rows: list[tuple[str, int]]
    svg: str = ""

    @property
    def total(self) -> int:
        return sum(c for _, c in self.rows)

    def share(self, count: int) -> str:
        return f"{100 * count / self.total:.1f}%" if self.total else "–"

    def count(self, label: str) -> int:
        return dict(self.rows).get(label, 0)


@dataclass
class Histogram:
    key: str
    title: str
    counts: list[int]
    nulls: int
    svg: str = ""
    mean: float | None = None


@dataclass
class Concentration:
    """Allocation of one part of a pool (pool × recipient type)."""

    pool_id: str
    recipient_type: str
    recipients: int
    impressions: int
    capped: int | None
    top10_share: float
    gini: float
    svg: str = ""


@dataclass
class PoolSummary:
    pool_id: str
    budget: int
    reserve: int
    parts: list[Concentration] = field(default_factory=list)


@dataclass
class Section:
    table: PublishedTable
    partition: Partition | None
    distributions: list[Distribution] = field(default_factory=list)
    histograms: list[Histogram] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ReportData:
    ds: date
    sections: dict[str, Section]
    pools: list[PoolSummary]
    gate: GateView | None
    gate_path: Path
    ingest: list[dict[str, Any]] | None
    timings: list[dict[str, Any]] | None
    working_file_note: str | None


# --- reading the snapshots ------------------------------------------------------------------------------
def _columns(con: duckdb.DuckDBPyConnection, part: Partition) -> set[str]:
    rel = con.sql("select * from read_parquet($p) limit 0", params={"p": str(part.parquet_path)})
    return set(rel.columns)


def distribution(
    con: duckdb.DuckDBPyConnection,
    part: Partition,
    column: str,
    order: list[str],
    title: str,
    skip_nulls: bool = False,
) -> Distribution:
    where = f'where "{column}" is not null' if skip_nulls else ""
    found = dict(
        con.execute(
            f"""select coalesce(cast("{column}" as varchar), $null), count(*)
            from read_parquet($p) {where} group by 1""",
            {"p": str(part.parquet_path), "null": NULL_LABEL},
        ).fetchall()
    )
    rows = [(label, int(found.pop(label, 0))) for label in order]
    rows += [(label, int(found[label])) for label in sorted(found)]
    dist = Distribution(key=f"{part.table.value}.{column}", title=title, rows=rows)
    dist.svg = bar_chart([r[0] for r in rows], [r[1] for r in rows], title)
    return dist


def score_histogram(con: duckdb.DuckDBPyConnection, part: Partition, column: str, title: str) -> Histogram:
    bins, nulls, mean = con.execute(
        f"""
        with scores as (select cast("{column}" as double) as score from read_parquet($p))
        select
            list(least(greatest(floor(score / 10), 0), 9)::int order by score)
                filter (where score is not null),
            count(*) filter (where score is null),
            round(avg(score), 2)
        from scores
        """,
        {"p": str(part.parquet_path)},
    ).fetchone()
    counts = [0] * (len(SCORE_EDGES) - 1)
    for b in bins or []:
        counts[b] += 1
    hist = Histogram(
        key=f"{part.table.value}.{column}", title=title, counts=counts, nulls=int(nulls), mean=mean
    )
    hist.svg = histogram(SCORE_EDGES, counts, title)
    return hist


def gini(values: list[int]) -> Fraction:
    """Gini coefficient of non-negative integers, exactly: Σ_i (2i − n − 1)·x_(i) / (n · Σx)."""
    xs = sorted(values)
    n, total = len(xs), sum(xs)
    if n == 0 or total == 0:
        return Fraction(0)
    return Fraction(sum((2 * i - n - 1) * x for i, x in enumerate(xs, start=1)), n * total)


def lorenz(values: list[int], points: int = LORENZ_POINTS) -> list[tuple[float, float]]:
    """Points of the Lorenz curve (poorest first), at most ``points`` + 1 of them."""
    xs = sorted(values)
    n, total = len(xs), sum(xs)
    if n == 0 or total == 0:
        return [(0.0, 0.0), (1.0, 1.0)]
    cumulative = [0]
    for x in xs:
        cumulative.append(cumulative[-1] + x)
    steps = sorted({round(k * n / points) for k in range(points + 1)} | {0, n})
    return [(i / n, cumulative[i] / total) for i in steps]


def concentration(pool_id: str, rtype: str, rows: list[tuple[str, int, Any]]) -> Concentration:
    impressions = [int(r[1] or 0) for r in rows]
    total = sum(impressions)
    top10 = sum(sorted(impressions, reverse=True)[:10])
    capped_values = [r[2] for r in rows]
    part = Concentration(
        pool_id=pool_id,
        recipient_type=rtype,
        recipients=len(rows),
        impressions=total,
        capped=None if any(v is None for v in capped_values) else sum(bool(v) for v in capped_values),
        top10_share=round(top10 / total, 4) if total else 0.0,
        gini=round(float(gini(impressions)), 4),
    )
    part.svg = lorenz_curve(lorenz(impressions), f"{pool_id} · {rtype}s (Lorenz)")
    return part


def flow_pools(con: duckdb.DuckDBPyConnection, part: Partition) -> list[PoolSummary]:
    cols = _columns(con, part)
    capped = '"capped"' if "capped" in cols else "null"
    rows = con.execute(
        f"""
        select pool_id, recipient_type, recipient_id, impressions, {capped}
        from read_parquet($p)
        order by pool_id, recipient_type, recipient_id
        """,
        {"p": str(part.parquet_path)},
    ).fetchall()
    pools: dict[str, PoolSummary] = {}
    by_part: dict[tuple[str, str], list[tuple[str, int, Any]]] = {}
    for pool_id, rtype, rid, impressions, is_capped in rows:
        pool = pools.setdefault(pool_id, PoolSummary(pool_id=pool_id, budget=0, reserve=0))
        pool.budget += int(impressions or 0)
        if rtype == "reserve":
            pool.reserve += int(impressions or 0)
        else:
            by_part.setdefault((pool_id, rtype), []).append((rid, impressions, is_capped))
    for (pool_id, rtype), part_rows in by_part.items():
        pools[pool_id].parts.append(concentration(pool_id, rtype, part_rows))
    order = {t: i for i, t in enumerate(RECIPIENT_TYPES)}
    for pool in pools.values():
        pool.parts.sort(key=lambda c: (order.get(c.recipient_type, len(order)), c.recipient_type))
    return [pools[k] for k in sorted(pools)]


def _section(
    con: duckdb.DuckDBPyConnection, store: SnapshotStore, table: PublishedTable, ds: date
) -> Section:
    part = store.partition(table, ds)
    section = Section(table=table, partition=part)
    if part is None:
        section.notes.append(f"{table.value} has no published partition for ds={ds}.")
        return section
    cols = _columns(con, part)

    def dist(column: str, order: list[str], title: str, skip_nulls: bool = False) -> None:
        if column in cols:
            section.distributions.append(distribution(con, part, column, order, title, skip_nulls))
        else:
            section.notes.append(f"column {column} is not in the snapshot")

    def hist(column: str, title: str) -> None:
        if column in cols:
            section.histograms.append(score_histogram(con, part, column, title))
        else:
            section.notes.append(f"column {column} is not in the snapshot")

    if table is PublishedTable.shop_scores_daily:
        dist("grade", GRADES, "Shops by grade")
        dist("score_status", SCORE_STATUSES, "Shops by score status")
        dist("growth_stage", GROWTH_STAGES, "Shops by growth stage")
        hist("experience_score", "Shop experience score")
    elif table is PublishedTable.creator_scores_daily:
        dist("score_status", SCORE_STATUSES, "Creators by score status")
        hist("reputation_score", "Creator reputation score")
    elif table is PublishedTable.product_tiers_daily:
        dist("tier", PRODUCT_TIERS, "Products by tier")
        dist("gate_reason", [], "L0 products by gate reason", skip_nulls=True)
        hist("product_score", "Product score")
    elif table is PublishedTable.provider_tiers_daily:
        dist("tier", PROVIDER_TIERS, "Providers by tier")
        dist("action", PROVIDER_ACTIONS, "Providers by action")
        hist("provider_score", "Provider score")
    return section


# --- what the gate and the working file leave ---------------------------------------------------------------
@dataclass
class GateView:
    """The gate's verdict for the ds (``trust_dw.quality.read_gate_result``), counted for the page."""

    result: GateResult
    expectations: int
    passed: int
    failed_blocking: int
    failed_warning: int
    failures: list[CheckOutcome]


def read_gate(settings: Settings, ds: date) -> tuple[GateView | None, Path]:
    path = gate_record_path(settings, ds.isoformat())
    result = read_gate_result(settings, ds.isoformat())
    if result is None:
        return None, path
    checks = result.checks
    failures = sorted((c for c in checks if not c.success), key=lambda c: (c.severity != "blocking", c.name))
    view = GateView(
        result=result,
        expectations=len(checks),
        passed=sum(1 for c in checks if c.success),
        failed_blocking=sum(1 for c in failures if c.severity == "blocking"),
        failed_warning=sum(1 for c in failures if c.severity != "blocking"),
        failures=failures,
    )
    return view, path


def read_working_file(settings: Settings, ds: date) -> tuple[list | None, list | None, str | None]:
    """Ingest ledger rows and ops.* stage timings of ds, from the working file opened read-only."""
    path = settings.warehouse_path
    if not path.is_file():
        return None, None, f"no working file at {path}"
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:  # a writer holds it (DESIGN §11): skip, do not wait
        return None, None, f"working file not readable now ({type(exc).__name__}); ingest and timings skipped"
    try:
        tables = {
            (s, t): {
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ?",
                    [s, t],
                ).fetchall()
            }
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_schema in ('ingest', 'ops') order by 1, 2"
            ).fetchall()
        }
        ingest = None
        if ("ingest", "load_ledger") in tables:
            ingest = _dicts(
                con.execute(
                    """
                    select feed, status, files, rows_read, rows_loaded, rows_quarantined, quarantine_share
                    from ingest.load_ledger where cast(ds as varchar) = ? order by feed
                    """,
                    [ds.isoformat()],
                )
            )
        timings = []
        for (schema, table), cols in tables.items():
            numeric = sorted(c for c in cols if c.endswith("seconds") or c in ("duration_s", "elapsed_s"))
            if schema != "ops" or not {"ds", "stage"} <= cols or not numeric:
                continue
            select = ", ".join(f'"{c}"' for c in ["stage", *numeric])
            rows = _dicts(
                con.execute(
                    f'select {select} from "ops"."{table}" where cast(ds as varchar) = ? order by 2 desc, 1',
                    [ds.isoformat()],
                )
            )
            timings += [{"source": f"ops.{table}", **r} for r in rows]
        return ingest, (timings or None), None
    finally:
        con.close()


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --- the page ------------------------------------------------------------------------------------------
def collect(settings: Settings, ds: date) -> ReportData:
    store = SnapshotStore(settings.exports_dir)
    con = duckdb.connect(config={"threads": 1})
    try:
        sections = {t.value: _section(con, store, t, ds) for t in PublishedTable}
        flow = sections[PublishedTable.flow_allocation_daily.value]
        pools = flow_pools(con, flow.partition) if flow.partition is not None else []
    finally:
        con.close()
    gate, gate_path = read_gate(settings, ds)
    ingest, timings, note = read_working_file(settings, ds)
    return ReportData(
        ds=ds,
        sections=sections,
        pools=pools,
        gate=gate,
        gate_path=gate_path,
        ingest=ingest,
        timings=timings,
        working_file_note=note,
    )


def render(data: ReportData) -> str:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("trust_dw", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["thousands"] = lambda v: f"{v:,}" if isinstance(v, int) else v
    env.filters["pct"] = lambda v: f"{100 * v:.2f}%"
    return env.get_template("report.html.j2").render(d=data, edges=SCORE_EDGES)


def write_report(settings: Settings, ds: date, out: Path | None = None) -> Path:
    """Render the report of ``ds`` and write it atomically; returns its path."""
    target = out or report_path(settings, ds)
    html = render(collect(settings, ds))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, target)
    return target
