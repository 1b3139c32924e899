"""Calibration report: what a generated landing zone looks like through the §5 scores (an estimate).

Reads the landing CSVs of a window straight into DuckDB (no ingest, no dbt) and measures the §10 targets
(brand GMV share, repurchase, fan share, refund rates, long tails) and how the §5 scores would spread
(shop grades, growth stages, product tiers, provider tiers). Anchors, weights and thresholds are read
from the dbt seeds, so this estimate follows the seeds; the published marts remain the reference.

    .venv/bin/python -m trust_dw.generate.calibration --ds 2026-01-30       # uses $TRUST_DW_HOME
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta

import duckdb

from trust_dw.config import Settings
from trust_dw.feeds import FEEDS

_DUCKDB_TYPES = {"DECIMAL(9,4)": "DECIMAL(9,4)"}
SCORING_SEEDS = (
    "score_indicator_anchors",
    "score_violation_points",
    "score_policies",
    "score_deduction_policies",
    "shop_grades",
    "product_tiers",
    "provider_tiers",
    "brand_level_values",
    "growth_stage_rules",
    "product_tier_rules",
)


def _columns(feed: str) -> str:
    cols = {c.name: _DUCKDB_TYPES.get(c.type, c.type) for c in FEEDS[feed].columns}
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in cols.items()) + "}"


def _files(settings: Settings, feed: str, days: list[str]) -> list[str]:
    out = []
    for ds in days:
        out += [p.as_posix() for p in sorted(settings.feed_ds_dir(feed, ds).glob("*.csv"))]
    return out


def _read(con: duckdb.DuckDBPyConnection, name: str, files: list[str], feed: str) -> None:
    con.execute(
        f"create or replace table {name} as select *, filename as _file from read_csv(?, header = true, "
        f"columns = {_columns(feed)}, filename = true, timestampformat = '%Y-%m-%dT%H:%M:%S%z')",
        [files],
    )


def load(settings: Settings, ds: str, window: int = 30) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the window's feeds (clean rows only: run on data generated without faults)."""
    end = date.fromisoformat(ds)
    days = [(end - timedelta(days=i)).isoformat() for i in range(window - 1, -1, -1)]
    days = [d for d in days if settings.feed_ds_dir("orders", d).exists()]
    con = duckdb.connect()
    con.execute("set TimeZone = 'Asia/Shanghai'")
    con.execute("set enable_progress_bar = false")
    _read(con, "orders_cdc", _files(settings, "orders", days), "orders")
    _read(con, "content", _files(settings, "content_metrics", days), "content_metrics")
    _read(con, "violations", _files(settings, "violations", days), "violations")
    for feed in ("shops", "products", "creators", "providers", "provider_shop_links"):
        _read(con, feed, _files(settings, feed, [ds]), feed)
    seeds = settings.dbt_project_dir / "seeds" / "scoring"
    for seed in SCORING_SEEDS:
        path = str(seeds / f"{seed}.csv")
        con.execute(f"create table {seed} as select * from read_csv(?, header = true)", [path])
    for seed in ("refund_sla", "order_rules"):
        path = str(settings.dbt_project_dir / "seeds" / "warehouse" / f"{seed}.csv")
        con.execute(f"create table {seed} as select * from read_csv(?, header = true)", [path])
    # rulings of the last 90 days, for the product counterfeit gate (§5.4)
    days90 = [(end - timedelta(days=i)).isoformat() for i in range(89, -1, -1)]
    days90 = [d for d in days90 if settings.feed_ds_dir("violations", d).exists()]
    _read(con, "violations_90", _files(settings, "violations", days90), "violations")
    first = days[0]
    con.execute(f"create table params as select date '{ds}' as ds, date '{first}' as ws,"
                f" (date '{ds}' + 1)::timestamptz as ds_end, {len(days)} as window_days")  # fmt: skip
    con.execute(_COHORT)
    return con


_COHORT = """
create table cohort as
with latest as (
    select * from orders_cdc qualify row_number() over (partition by order_id order by updated_at desc) = 1
),
flagged as (
    select
        o.*,
        p.brand_id is not null as is_brand,
        cast(paid_at as date) as paid_date,
        delivered_at is not null as delivered,
        refund_requested_at is not null and refund_reason = r.quality_refund_reason as quality_refund,
        reviewed_at is not null as reviewed,
        review_rating <= r.negative_review_max_rating as negative,
        paid_at + to_hours(r.collect_window_hours) <= (select ds_end from params) as collect_due,
        collected_at <= paid_at + to_hours(r.collect_window_hours) as collected_48h,
        epoch(delivered_at - paid_at) / 3600 as delivery_hours,
        refund_completed_at is not null as refund_done,
        epoch(refund_completed_at - refund_requested_at) / 3600 <= s.sla_hours as refund_on_time,
        dispute_opened_at is not null as disputed
    from latest o
    cross join order_rules r
    left join products p using (product_id)
    left join refund_sla s
        on s.refund_type = o.refund_type
        and s.shipped_at_request = coalesce(o.shipped_at <= o.refund_requested_at, false)
)
select * from flagged
where paid_date between (select ws from params) and (select ds from params)
    and not (cancelled_at is not null and shipped_at is null)
"""

_SHOP_INDICATORS = """
select 'shop' as score_name, shop_id as subject_id, unnest([
    {'indicator': 'quality_refund_rate', 'v': sum(quality_refund::int) / nullif(sum(delivered::int), 0)},
    {'indicator': 'negative_review_rate', 'v': sum(negative::int) filter (where reviewed) / nullif(sum(reviewed::int), 0)},
    {'indicator': 'collect_48h_rate', 'v': sum(coalesce(collected_48h, false)::int) filter (where collect_due) / nullif(sum(collect_due::int), 0)},
    {'indicator': 'avg_delivery_hours', 'v': avg(delivery_hours)},
    {'indicator': 'refund_sla_rate', 'v': sum(refund_on_time::int) filter (where refund_done) / nullif(sum(refund_done::int), 0)},
    {'indicator': 'dispute_rate', 'v': sum(disputed::int) / count(*)}
]) as ind, count(*) as cohort_orders, sum(pay_amount) as gmv
from cohort group by shop_id
"""  # noqa: E501

_SCORE = """
create or replace table {name} as
with ind as (
    select score_name, subject_id, cohort_orders, gmv, ind.indicator, ind.v from ({indicators})
),
scored as (
    select i.*, a.dimension, a.dimension_weight, a.indicator_weight,
        case when a.transform = 'log10' then log10(greatest(i.v, 1)) else i.v end as tv,
        case when a.transform = 'log10' then log10(greatest(a.good, 1)) else a.good end as g,
        case when a.transform = 'log10' then log10(greatest(a.bad, 1)) else a.bad end as b
    from ind i join score_indicator_anchors a using (score_name, indicator)
    where i.v is not null
),
dims as (
    select score_name, subject_id, any_value(cohort_orders) as cohort_orders, any_value(gmv) as gmv,
        dimension, any_value(dimension_weight) as dw,
        sum(indicator_weight * 100 * greatest(0, least(1, (tv - b) / (g - b)))) / sum(indicator_weight) as ds
    from scored group by all
),
total as (
    select score_name, subject_id, any_value(cohort_orders) as cohort_orders, any_value(gmv) as gmv,
        sum(dw * ds) / sum(dw) as raw
    from dims group by all
),
deductions as (
    select v.subject_id, least(sum(p.points), any_value(pol.deduction_cap)) as points
    from violations v
    join score_violation_points p on p.score_name = '{score}' and p.violation_type = v.violation_type
    join score_deduction_policies pol on pol.score_name = '{score}'
    where v.subject_type = '{score}'
        and v.ruled_at > (select ds_end from params) - to_days(pol.deduction_window_days)
    group by v.subject_id
)
select t.subject_id, t.cohort_orders, t.gmv,
    round(greatest(0, least(100, t.raw - coalesce(d.points, 0))), 2) as score,
    t.cohort_orders < (select provisional_min_orders from score_policies where score_name = '{score}')
        as provisional
from total t left join deductions d using (subject_id)
"""

_CREATOR_INDICATORS = """
select 'creator' as score_name, creator_id as subject_id, unnest([
    {'indicator': 'open_rate', 'v': sum(opens) / nullif(sum(impressions), 0)},
    {'indicator': 'completion_rate', 'v': sum(completions) / nullif(sum(plays), 0)},
    {'indicator': 'interaction_rate', 'v': sum(likes + comments + shares) / nullif(sum(plays), 0)},
    {'indicator': 'avg_watch_seconds', 'v': sum(watch_seconds) / nullif(sum(plays), 0)}
]) as ind, 0 as cohort_orders, 0 as gmv
from content group by creator_id
union all
select 'creator', creator_id, unnest([
    {'indicator': 'quality_refund_rate', 'v': sum(quality_refund::int) / nullif(sum(delivered::int), 0)},
    {'indicator': 'negative_review_rate', 'v': sum(negative::int) filter (where reviewed) / nullif(sum(reviewed::int), 0)},
    {'indicator': 'dispute_rate', 'v': sum(disputed::int) / count(*)},
    {'indicator': 'repeat_buyer_rate', 'v': (select count(*) filter (where n >= 2) / count(*) from (
        select count(*) n from cohort c2 where c2.creator_id = c.creator_id group by buyer_id))}
]), count(*), sum(pay_amount)
from cohort c where creator_id is not null group by creator_id
"""  # noqa: E501


def _scores(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_SCORE.format(name="shop_scores", indicators=_SHOP_INDICATORS, score="shop"))
    con.execute(_SCORE.format(name="creator_scores_raw", indicators=_CREATOR_INDICATORS, score="creator"))
    con.execute("""
        create or replace table creator_scores as
        select subject_id, max(cohort_orders) as cohort_orders, any_value(score) as score,
            max(cohort_orders) < (select provisional_min_orders from score_policies
                                  where score_name = 'creator') as provisional
        from creator_scores_raw group by subject_id
    """)


def _grades(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute("""
        select coalesce((select grade from shop_grades g where s.score >= g.min_score order by g.min_score desc limit 1),
                        'none') as grade, count(*)
        from shop_scores s where not provisional group by 1 order by 1
    """).fetchall()  # noqa: E501
    return dict(rows)


def _stages(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(
        con.execute("""
        with r as (select * from growth_stage_rules),
        per_shop as (
            select s.shop_id, s.brand_level, s.opened_at, c.n, c.gmv
            from shops s join (select shop_id, count(*) n, sum(pay_amount) gmv from cohort group by 1) c
                using (shop_id)
        )
        select case
            when n < r.new_store_min_orders or (select ds from params) - opened_at <= r.new_store_max_age_days
                then 'new_store'
            when gmv < r.climbing_max_gmv_exclusive then 'climbing'
            when gmv >= r.ska_min_gmv and brand_level <> r.ska_excluded_brand_level then 'ska'
            else 'industry_ka' end as stage, count(*)
        from per_shop, r group by 1 order by 1
    """).fetchall()
    )


def _providers(con: duckdb.DuckDBPyConnection) -> list[dict]:
    rows = con.execute("""
        with served as (
            select l.provider_id, l.shop_id from provider_shop_links l
            where l.start_date <= (select ds from params) and (l.end_date is null or l.end_date >= (select ds from params))
        ),
        per_provider as (
            select p.provider_id,
                coalesce(sum(s.gmv), 0) * 365 / 30 as annualized,
                sum(s.gmv * s.score) filter (where not s.provisional)
                    / nullif(sum(s.gmv) filter (where not s.provisional), 0) as served_quality,
                count(sv.shop_id) as served_shops
            from providers p
            left join served sv using (provider_id)
            left join shop_scores s on s.subject_id = sv.shop_id
            where p.status = 'active'
            group by p.provider_id
        )
        select provider_id, served_shops, annualized, served_quality,
            (select tier from provider_tiers t where annualized >= t.min_annualized_gmv
                and coalesce(served_quality, 0) >= t.min_served_quality order by t.tier_rank limit 1) as tier
        from per_provider order by annualized desc
    """).fetchall()  # noqa: E501
    keys = ("provider_id", "served_shops", "annualized_gmv", "served_quality", "tier")
    return [dict(zip(keys, r, strict=True)) for r in rows]


_PRODUCT = """
create or replace table product_estimates as
with per_product as (
    select c.product_id, any_value(c.shop_id) as shop_id, any_value(p.category) as category,
        count(*) as n, sum(pay_amount) as gmv, sum(pay_amount) / sum(quantity) as avg_price,
        sum(quality_refund::int) / nullif(sum(delivered::int), 0) as qrr,
        sum(negative::int) filter (where reviewed) / nullif(sum(reviewed::int), 0) as nrr,
        sum(disputed::int) / count(*) as dispute_rate,
        count(distinct creator_id) filter (where channel like '%distribution') as distributors,
        coalesce(sum(pay_amount) filter (where channel like '%distribution'), 0) / sum(pay_amount) as dist_share,
        any_value(p.status) as status
    from cohort c left join products p using (product_id) group by c.product_id
),
daily as (
    select product_id, stddev_pop(px) / avg(px) as price_cv from (
        select product_id, paid_date, sum(pay_amount) / sum(quantity) as px from cohort group by all
    ) group by product_id
),
median as (select category, median(avg_price) as med from per_product group by category),
repurchase as (
    select product_id, count(*) filter (where n >= 2) / count(*) as rate
    from (select product_id, buyer_id, count(*) n from cohort group by all) group by product_id
),
ind as (
    select pp.product_id as subject_id, pp.n as cohort_orders, pp.gmv, unnest([
        {'indicator': 'brand_level_score', 'v': b.brand_level_score},
        {'indicator': 'shop_experience_score', 'v': case when ss.provisional or ss.score is null then 70 else ss.score end},
        {'indicator': 'price_index', 'v': pp.avg_price / m.med},
        {'indicator': 'price_cv', 'v': d.price_cv},
        {'indicator': 'active_distributors', 'v': pp.distributors},
        {'indicator': 'distribution_gmv_share', 'v': pp.dist_share},
        {'indicator': 'quality_refund_rate', 'v': pp.qrr},
        {'indicator': 'negative_review_rate', 'v': pp.nrr},
        {'indicator': 'dispute_rate', 'v': pp.dispute_rate},
        {'indicator': 'gmv', 'v': pp.gmv},
        {'indicator': 'repurchase_rate', 'v': r.rate}
    ]) as ind
    from per_product pp
    join shops s on s.shop_id = pp.shop_id
    join brand_level_values b on b.brand_level = s.brand_level
    left join shop_scores ss on ss.subject_id = pp.shop_id
    join median m on m.category = pp.category
    join daily d using (product_id)
    join repurchase r using (product_id)
)
select * from ind
"""  # noqa: E501


PRODUCT_INDICATORS = "select 'product' score_name, subject_id, cohort_orders, gmv, ind from product_estimates"


def _product_tiers(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    con.execute(_PRODUCT)
    con.execute(
        _SCORE.format(
            name="product_scores",
            indicators=PRODUCT_INDICATORS,
            score="product",
        )
    )
    rows = con.execute("""
        with r as (select * from product_tier_rules),
        fakes as (
            select v.subject_id from violations_90 v, r
            where v.violation_type = r.counterfeit_violation_type
                and v.ruled_at > (select ds_end from params) - to_days(r.counterfeit_lookback_days)
        ),
        t as (
            select ps.subject_id, ps.score, ps.cohort_orders, p.status, p.shop_id, q.v as qrr,
                (select tier_rank from product_tiers pt where ps.score >= pt.min_score
                 order by pt.min_score desc limit 1) as base_rank
            from product_scores ps
            join products p on p.product_id = ps.subject_id
            left join (select subject_id, ind.v from product_estimates where ind.indicator = 'quality_refund_rate') q
                using (subject_id)
        ),
        ranks as (
            select t.*, r.*,
                (select tier_rank from product_tiers where tier = r.top_tier) as top_rank,
                (select tier_rank from product_tiers where tier = r.top_fallback_tier) as fallback_rank,
                (select tier_rank from product_tiers where tier = r.small_max_tier) as small_rank
            from t, r
        ),
        capped as (
            select *,
                case when base_rank = top_rank and not (coalesce(qrr <= top_max_quality_refund_rate, false)
                                                        and cohort_orders >= top_min_orders)
                     then fallback_rank else base_rank end as rank1
            from ranks
        )
        select case
            when status = banned_status or subject_id in (select * from fakes) or shop_id in (select * from fakes)
                or qrr > gate_max_quality_refund_rate then gate_tier
            else (select tier from product_tiers where tier_rank =
                  case when cohort_orders < small_max_orders_exclusive then least(rank1, small_rank) else rank1 end)
            end as tier, count(*)
        from capped group by 1 order by 1
    """).fetchall()  # noqa: E501
    return dict(rows)


def _platform(con: duckdb.DuckDBPyConnection) -> dict:
    row = con.execute("""
        with buyers as (select buyer_id, count(*) n from cohort group by 1),
        repeat_orders as (
            select is_fan_order from (
                select is_fan_order, row_number() over (partition by shop_id, buyer_id order by paid_at) as k
                from cohort
            ) where k >= 2
        ),
        shop_rates as (
            select shop_id, sum(quality_refund::int) / nullif(sum(delivered::int), 0) as qrr,
                count(refund_requested_at) / count(*) as refund_rate
            from cohort group by shop_id having count(*) >= 100
        ),
        shop_gmv as (select shop_id, sum(pay_amount) g from cohort group by 1),
        creator_gmv as (select creator_id, sum(pay_amount) g from cohort
                        where channel like '%distribution' group by 1)
        select
            (select count(*) from cohort) as cohort_orders,
            (select sum(pay_amount) from cohort) as gmv,
            (select sum(pay_amount) / count(*) from cohort) as aov,
            (select sum(pay_amount) filter (where is_brand) / sum(pay_amount) from cohort) as brand_gmv_share,
            (select avg(is_fan_order::int) from cohort) as fan_order_share,
            (select count(*) filter (where n >= 2) / count(*) from buyers) as repurchasing_buyer_share,
            (select avg(is_fan_order::int) from repeat_orders) as fan_share_of_repeat_orders,
            (select count(refund_requested_at) / count(*) from cohort) as refund_rate,
            (select sum(quality_refund::int) / sum(delivered::int) from cohort) as quality_refund_rate,
            (select quantile_cont(qrr, [0.1, 0.5, 0.9]) from shop_rates) as shop_quality_refund_p10_p50_p90,
            (select quantile_cont(refund_rate, [0.1, 0.5, 0.9]) from shop_rates)
                as shop_refund_rate_p10_p50_p90,
            (select sum(g) filter (where r <= greatest(1, n * 0.01)) / sum(g)
               from (select g, row_number() over (order by g desc) r, count(*) over () n from shop_gmv))
               as top1pct_shop_gmv_share,
            (select sum(g) filter (where r <= greatest(1, n * 0.2)) / sum(g)
               from (select g, row_number() over (order by g desc) r, count(*) over () n from shop_gmv))
               as top20pct_shop_gmv_share,
            (select sum(g) filter (where r <= greatest(1, n * 0.2)) / sum(g)
               from (select g, row_number() over (order by g desc) r, count(*) over () n from creator_gmv))
               as top20pct_creator_distribution_gmv_share,
            (select list(channel || '=' || round(s, 3) order by channel) from (
                select channel, sum(pay_amount) / (select sum(pay_amount) from cohort) s
                from cohort group by 1)) as channel_gmv_mix
    """).fetchone()
    names = [d[0] for d in con.description]
    return {k: (float(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, int) else v)
            for k, v in zip(names, row, strict=True)}  # fmt: skip


def report(settings: Settings, ds: str, window: int = 30) -> dict:
    """The calibration figures of the window ending on ``ds`` (see docs/generator.md)."""
    con = load(settings, ds, window)
    _scores(con)
    out = {"ds": ds, "window_days": con.execute("select window_days from params").fetchone()[0]}
    out["platform"] = _platform(con)
    out["shop_grades_scored"] = _grades(con)
    out["shops_provisional"] = con.execute("select count(*) from shop_scores where provisional").fetchone()[0]
    out["growth_stages"] = _stages(con)
    out["product_tiers"] = _product_tiers(con)
    providers = _providers(con)
    out["provider_tiers"] = {t: sum(1 for p in providers if p["tier"] == t) for t in ("S", "A", "B", "C")}
    out["top_providers"] = providers[:5]
    out["creator_scores"] = dict(
        zip(
            ("scored", "p10", "p50", "p90"),
            con.execute("""select count(*), quantile_cont(score, [0.1, 0.5, 0.9])[1],
                       quantile_cont(score, [0.1, 0.5, 0.9])[2], quantile_cont(score, [0.1, 0.5, 0.9])[3]
                       from creator_scores where not provisional""").fetchone(),
            strict=True,
        )
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ds", required=True)
    parser.add_argument("--window", type=int, default=30)
    args = parser.parse_args(argv)
    print(
        json.dumps(
            report(Settings.from_env(), args.ds, args.window), indent=1, default=str, ensure_ascii=False
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
