"""What the score marts say, for people: ``trust-dw summary`` and ``trust-dw explain`` (DESIGN §5, §7).

Both read the working DuckDB file read-only (the published marts keep every ds, so any past ds can be
summarised or explained). ``summary`` counts shops per grade and status, products per tier, providers per
tier and action, creators per star band and shops per growth stage. ``explain`` takes one subject apart:
each indicator's raw value, its 0–100 score, its weight in the seed and after renormalisation (indicators
without evidence are left out), the dimension scores, the deductions (and the rulings behind them) and the
total. Weights come from the anchors seed as loaded in the warehouse, so the explanation matches the run.

The functions return plain data (tested); ``render_*`` turn it into rich tables for the CLI.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
from rich.console import Group
from rich.table import Table
from rich.text import Text

from trust_dw.config import Settings
from trust_dw.warehouse import connect


class ScoresReportError(RuntimeError):
    """The marts cannot be read (no working file, a writer holds it, no rows for the ds, unknown id)."""


@dataclass(frozen=True)
class ScoreKind:
    """Where one score is published and which of its columns make the headline."""

    score_name: str  # score_name in the seeds (score_indicator_anchors, …)
    table: str
    key: str
    score_column: str
    headline: tuple[str, ...]


KINDS: dict[str, ScoreKind] = {
    "shop": ScoreKind(
        "shop",
        "marts.shop_scores_daily",
        "shop_id",
        "experience_score",
        (
            "cohort_orders",
            "gmv",
            "score_status",
            "stars",
            "grade",
            "effective_score",
            "rights",
            "settlement_days",
            "growth_stage",
        ),
    ),
    "creator": ScoreKind(
        "creator",
        "marts.creator_scores_daily",
        "creator_id",
        "reputation_score",
        ("cohort_orders", "gmv", "score_status", "stars", "effective_score"),
    ),
    "product": ScoreKind(
        "product",
        "marts.product_tiers_daily",
        "product_id",
        "product_score",
        ("shop_id", "category", "cohort_orders", "gmv", "tier", "gate_reason", "is_selected_goods"),
    ),
    "provider": ScoreKind(
        "provider",
        "marts.provider_tiers_daily",
        "provider_id",
        "provider_score",
        ("provider_type", "served_shops", "gmv_w30", "annualized_gmv", "tier", "action"),
    ),
}


# --- reading --------------------------------------------------------------------------------------


def _open(settings: Settings) -> duckdb.DuckDBPyConnection:
    path = settings.warehouse_path
    if not path.exists():
        raise ScoresReportError(f"no working warehouse at {path}: run the pipeline for a ds first")
    try:
        return connect(settings, read_only=True)
    except duckdb.ConnectionException:
        # an in-process dbt run (tests, the pipeline) may leave its database instance to the garbage
        # collector; DuckDB refuses a second configuration of a file while that instance lives
        gc.collect()
        return connect(settings, read_only=True)
    except duckdb.IOException as exc:  # another process holds the write lock
        raise ScoresReportError(f"cannot open {path} read-only (a run is writing it?): {exc}") from exc


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    try:
        cur = con.execute(sql, params or [])
    except duckdb.CatalogException as exc:
        raise ScoresReportError(f"the score marts are not built in this warehouse: {exc}") from exc
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _resolve_ds(con: duckdb.DuckDBPyConnection, ds: str | None) -> date:
    if ds is not None:
        try:
            return date.fromisoformat(ds)
        except ValueError:
            raise ScoresReportError(f"ds must be a date YYYY-MM-DD, got {ds!r}") from None
    latest = _rows(con, "select max(ds) as ds from marts.shop_scores_daily")[0]["ds"]
    if latest is None:
        raise ScoresReportError("marts.shop_scores_daily holds no ds yet")
    return latest


# --- summary --------------------------------------------------------------------------------------


@dataclass
class SummaryTable:
    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class ScoreSummary:
    ds: date
    tables: list[SummaryTable]

    def table(self, title_start: str) -> SummaryTable:
        return next(t for t in self.tables if t.title.startswith(title_start))


def _share(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def summary(settings: Settings, ds: str | None = None) -> ScoreSummary:
    """Counts of the score marts for ``ds`` (default: the latest ds built)."""
    con = _open(settings)
    try:
        day = _resolve_ds(con, ds)
        n_shops = _rows(con, "select count(*) as n from marts.shop_scores_daily where ds = ?", [day])[0]["n"]
        if n_shops == 0:
            raise ScoresReportError(f"no score rows for ds={day} (built ds: run the pipeline for it first)")
        tables = [
            _shop_grades(con, day),
            _product_tiers(con, day),
            _provider_tiers(con, day),
            _creator_star_bands(con, day),
            _growth_stages(con, day),
        ]
    finally:
        con.close()
    return ScoreSummary(day, tables)


def _shop_grades(con: duckdb.DuckDBPyConnection, day: date) -> SummaryTable:
    rows = _rows(
        con,
        """
        select
            grades.grade,
            count(shops.shop_id) filter (where shops.score_status = 'scored') as scored,
            count(shops.shop_id) filter (where shops.score_status = 'provisional') as provisional,
            count(shops.shop_id) as shops,
            round(avg(shops.experience_score) filter (where shops.score_status = 'scored'), 2) as avg_score
        from seeds.shop_grades as grades
        left join marts.shop_scores_daily as shops
            on shops.grade = grades.grade and shops.ds = ?
        group by grades.grade, grades.grade_rank
        order by grades.grade_rank
        """,
        [day],
    )
    total = sum(r["shops"] for r in rows)
    return SummaryTable(
        "Shops per grade (provisional shops are graded as the default score)",
        ["grade", "scored", "provisional", "shops", "share", "avg score (scored)"],
        [
            [r["grade"], r["scored"], r["provisional"], r["shops"], _share(r["shops"], total), r["avg_score"]]
            for r in rows
        ],
    )


def _product_tiers(con: duckdb.DuckDBPyConnection, day: date) -> SummaryTable:
    rows = _rows(
        con,
        """
        with tiers as (
            select gate_tier as tier, -1 as tier_rank from seeds.product_tier_rules
            union all
            select tier, tier_rank from seeds.product_tiers
        )
        select
            tiers.tier,
            count(products.product_id) as products,
            count(products.product_id) filter (where products.gate_reason = 'banned') as banned,
            count(products.product_id) filter (where products.gate_reason = 'counterfeit') as counterfeit,
            count(products.product_id) filter (where products.gate_reason = 'quality_refund_rate')
                as quality_refunds,
            round(avg(products.product_score), 2) as avg_score
        from tiers
        left join marts.product_tiers_daily as products
            on products.tier = tiers.tier and products.ds = ?
        group by tiers.tier, tiers.tier_rank
        order by tiers.tier_rank
        """,
        [day],
    )
    total = sum(r["products"] for r in rows)
    return SummaryTable(
        "Products per tier (L0 = a gate failed; L5 = 精选好物)",
        ["tier", "products", "share", "avg score", "gate: banned", "gate: counterfeit", "gate: refunds"],
        [
            [
                r["tier"],
                r["products"],
                _share(r["products"], total),
                r["avg_score"],
                r["banned"],
                r["counterfeit"],
                r["quality_refunds"],
            ]
            for r in rows
        ],
    )


def _provider_tiers(con: duckdb.DuckDBPyConnection, day: date) -> SummaryTable:
    rows = _rows(
        con,
        """
        select
            tiers.tier,
            count(providers.provider_id) filter (where providers.action = 'keep') as keep,
            count(providers.provider_id) filter (where providers.action = 'warn') as warn,
            count(providers.provider_id) filter (where providers.action = 'exit') as exit,
            count(providers.provider_id) as providers
        from seeds.provider_tiers as tiers
        left join marts.provider_tiers_daily as providers
            on providers.tier = tiers.tier and providers.ds = ?
        group by tiers.tier, tiers.tier_rank
        order by tiers.tier_rank
        """,
        [day],
    )
    total = sum(r["providers"] for r in rows)
    return SummaryTable(
        "Service providers per tier and action",
        ["tier", "keep", "warn", "exit", "providers", "share"],
        [
            [r["tier"], r["keep"], r["warn"], r["exit"], r["providers"], _share(r["providers"], total)]
            for r in rows
        ],
    )


def _creator_star_bands(con: duckdb.DuckDBPyConnection, day: date) -> SummaryTable:
    # half-star bands [3.0, 3.5), [3.5, 4.0), [4.0, 4.5), [4.5, 5.0]; provisional creators have no stars
    rows = _rows(
        con,
        """
        select
            case
                when stars is null then 'provisional (no stars)'
                else printf('%.1f–%.1f', band_floor, band_floor + 0.5)
            end as band,
            count(*) as creators,
            round(avg(reputation_score), 2) as avg_score
        from (
            select stars, reputation_score, least(floor(stars * 2) / 2, 4.5) as band_floor
            from marts.creator_scores_daily
            where ds = ?
        )
        group by band
        order by band
        """,
        [day],
    )
    total = sum(r["creators"] for r in rows)
    return SummaryTable(
        "Creators per star band",
        ["stars", "creators", "share", "avg score"],
        [[r["band"], r["creators"], _share(r["creators"], total), r["avg_score"]] for r in rows],
    )


def _growth_stages(con: duckdb.DuckDBPyConnection, day: date) -> SummaryTable:
    rows = _rows(
        con,
        """
        select
            stages.growth_stage,
            count(shops.shop_id) as shops,
            coalesce(sum(shops.gmv), 0) as gmv
        from seeds.growth_stages as stages
        left join marts.shop_scores_daily as shops
            on shops.growth_stage = stages.growth_stage and shops.ds = ?
        group by stages.growth_stage, stages.stage_rank
        order by stages.stage_rank
        """,
        [day],
    )
    total = sum(r["shops"] for r in rows)
    total_gmv = sum(r["gmv"] for r in rows)
    return SummaryTable(
        "Merchant growth stages (STEPS ladder)",
        ["stage", "shops", "share", "GMV(W30)", "GMV share"],
        [
            [r["growth_stage"], r["shops"], _share(r["shops"], total), r["gmv"], _share(r["gmv"], total_gmv)]
            for r in rows
        ],
    )


# --- explain --------------------------------------------------------------------------------------


@dataclass
class IndicatorLine:
    dimension: str
    dimension_weight: float
    dimension_score: float | None
    effective_dimension_weight: float | None
    indicator: str
    indicator_weight: float
    effective_indicator_weight: float | None
    good: float
    bad: float
    transform: str
    value: Any
    score: float | None

    @property
    def contribution(self) -> float | None:
        weights = (self.effective_dimension_weight, self.effective_indicator_weight)
        if self.score is None or None in weights:
            return None
        return weights[0] * weights[1] * self.score


@dataclass
class Explanation:
    kind: str
    subject_id: str
    ds: date
    score: Any
    base_score: Any
    deductions: Any
    headline: dict[str, Any]
    indicators: list[IndicatorLine]
    rulings: list[dict[str, Any]]


def explain(settings: Settings, kind: str, subject_id: str, ds: str | None = None) -> Explanation:
    """Take one published score apart (see the module docstring)."""
    if kind not in KINDS:
        raise ScoresReportError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    spec = KINDS[kind]
    con = _open(settings)
    try:
        day = _resolve_ds(con, ds)
        found = _rows(con, f"select * from {spec.table} where ds = ? and {spec.key} = ?", [day, subject_id])
        if not found:
            raise ScoresReportError(f"no {kind} {subject_id!r} in {spec.table} for ds={day}")
        row = found[0]
        anchors = _rows(
            con,
            """
            select dimension, dimension_weight, indicator, indicator_weight, good, bad, transform
            from seeds.score_indicator_anchors
            where score_name = ?
            order by dimension_weight desc, dimension, indicator_weight desc, indicator
            """,
            [spec.score_name],
        )
        rulings = _counted_rulings(con, spec, subject_id, day)
    finally:
        con.close()
    return Explanation(
        kind=kind,
        subject_id=subject_id,
        ds=day,
        score=row[spec.score_column],
        base_score=row.get("base_score"),
        deductions=row.get("deductions"),
        headline={c: row.get(c) for c in spec.headline},
        indicators=_indicator_lines(row, anchors),
        rulings=rulings,
    )


def _indicator_lines(row: dict[str, Any], anchors: list[dict[str, Any]]) -> list[IndicatorLine]:
    """Published values and scores next to the seed weights, renormalised as the mechanism does."""
    scores = {a["indicator"]: row.get(f"{a['indicator']}_score") for a in anchors}
    evidence_weight: dict[str, float] = {}
    for a in anchors:
        if scores[a["indicator"]] is not None:
            evidence_weight[a["dimension"]] = evidence_weight.get(a["dimension"], 0.0) + a["indicator_weight"]
    dimension_weights = {a["dimension"]: a["dimension_weight"] for a in anchors}
    evidence_dimensions = sum(w for d, w in dimension_weights.items() if d in evidence_weight)
    lines = []
    for a in anchors:
        dim, ind = a["dimension"], a["indicator"]
        score = scores[ind]
        lines.append(
            IndicatorLine(
                dimension=dim,
                dimension_weight=a["dimension_weight"],
                dimension_score=_float(row.get(f"{dim}_score")),
                effective_dimension_weight=(
                    a["dimension_weight"] / evidence_dimensions if dim in evidence_weight else None
                ),
                indicator=ind,
                indicator_weight=a["indicator_weight"],
                effective_indicator_weight=(
                    a["indicator_weight"] / evidence_weight[dim] if score is not None else None
                ),
                good=a["good"],
                bad=a["bad"],
                transform=a["transform"],
                value=row.get(ind),
                score=_float(score),
            )
        )
    return lines


def _counted_rulings(
    con: duckdb.DuckDBPyConnection, spec: ScoreKind, subject_id: str, day: date
) -> list[dict[str, Any]]:
    """The rulings behind a shop's or creator's deductions (same window and points as the score)."""
    if spec.score_name not in ("shop", "creator"):
        return []
    return _rows(
        con,
        """
        select violations.violation_id, violations.ruled_date, violations.violation_type, points.points
        from core.fct_violations as violations
        inner join seeds.score_violation_points as points
            on points.score_name = ? and points.violation_type = violations.violation_type
        inner join seeds.score_deduction_policies as policies
            on policies.score_name = points.score_name
        where violations.subject_type = ? and violations.subject_id = ?
            and violations.ruled_date between ?::date - (policies.deduction_window_days - 1) and ?::date
        order by violations.ruled_date, violations.violation_id
        """,
        [spec.score_name, spec.score_name, subject_id, day, day],
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# --- rendering (rich) -----------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 1e6:
            return f"{value:,.0f}"
        return f"{value:.4g}" if abs(value) < 1 else f"{value:,.4f}".rstrip("0").rstrip(".")
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _weight(seed: float, effective: float | None) -> str:
    return f"{_cell(seed)} → " + ("no evidence" if effective is None else _cell(round(effective, 4)))


def render_summary(result: ScoreSummary) -> Group:
    parts: list[Any] = [Text(f"Score marts for ds={result.ds}", style="bold")]
    for t in result.tables:
        table = Table(title=t.title, title_justify="left")
        for i, c in enumerate(t.columns):
            table.add_column(c, justify="left" if i == 0 else "right")
        for r in t.rows:
            table.add_row(*[_cell(v) for v in r])
        parts.append(table)
    return Group(*parts)


def render_explanation(e: Explanation) -> Group:
    spec = KINDS[e.kind]
    head = Table(title=f"{e.kind} {e.subject_id} on ds={e.ds}", title_justify="left", show_header=False)
    head.add_column("field")
    head.add_column("value")
    head.add_row(spec.score_column, _cell(e.score))
    for k, v in e.headline.items():
        head.add_row(k, _cell(v))

    ind = Table(
        title="Indicators by dimension (weight: seed → renormalised over what has evidence)",
        title_justify="left",
    )
    for name, justify in (
        ("dimension / indicator", "left"),
        ("value", "right"),
        ("good → bad", "right"),
        ("score", "right"),
        ("weight", "right"),
        ("contribution", "right"),
    ):
        ind.add_column(name, justify=justify, no_wrap=True)
    dimension = None
    for line in e.indicators:
        if line.dimension != dimension:
            dimension = line.dimension
            ind.add_row(
                Text(line.dimension, style="bold"),
                "",
                "",
                Text(_cell(line.dimension_score), style="bold"),
                Text(_weight(line.dimension_weight, line.effective_dimension_weight), style="bold"),
                "",
            )
        anchors = f"{_cell(line.good)} → {_cell(line.bad)}" + (" log10" if line.transform == "log10" else "")
        ind.add_row(
            f"  {line.indicator}",
            _cell(line.value),
            anchors,
            _cell(line.score),
            _weight(line.indicator_weight, line.effective_indicator_weight),
            _cell(None if line.contribution is None else round(line.contribution, 4)),
        )

    total = Table(title="Total", title_justify="left", show_header=False)
    total.add_column("step")
    total.add_column("points", justify="right")
    if e.base_score is not None:
        total.add_row("weighted score (Σ contributions)", _cell(e.base_score))
    else:  # not published for this score: the sum of the displayed (rounded) contributions
        weighted = sum(line.contribution or 0 for line in e.indicators)
        total.add_row("weighted score (≈ Σ contributions above)", _cell(round(weighted, 2)))
    total.add_row(
        "− deductions (capped)", "none for this score" if e.deductions is None else _cell(e.deductions)
    )
    total.add_row(f"= {spec.score_column} (clamped to 0–100, rounded)", _cell(e.score))
    parts: list[Any] = [head, ind, total]
    if e.rulings:
        rulings = Table(title="Rulings counted in the deduction window", title_justify="left")
        fields = ("violation_id", "ruled_date", "violation_type", "points")
        for c in fields:
            rulings.add_column(c)
        for r in e.rulings:
            rulings.add_row(*[_cell(r[c]) for c in fields])
        parts.append(rulings)
    return Group(*parts)
