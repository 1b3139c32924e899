{#-
    Published: product score (five-dimension matrix) and tier L0–L5 (DESIGN §5.4), one row per
    (ds, product) with ≥ 1 cohort order in W30. Incremental by ds. No deductions.
    Tier: L0 when a gate fails (in this order: banned, counterfeit, quality_refund_rate — gate_reason names
    the first), else the band of the rounded score, then the caps (few orders ⇒ at most the small tier;
    the top tier needs a low, evidenced quality refund rate and enough orders, else the fallback tier).
-#}
{%- set indicators = [
    'brand_level_score', 'shop_experience_score', 'price_index', 'price_cv', 'active_distributors',
    'distribution_gmv_share', 'quality_refund_rate', 'negative_review_rate', 'dispute_rate',
    'repurchase_rate',
] -%}
{%- set dimensions = {
    'brand': 'brand_score',
    'price': 'price_score',
    'distribution': 'distribution_score',
    'service': 'service_score',
    'sales': 'sales_score',
} -%}

with

product_inputs as (

    select
        ds,
        product_id,
        shop_id,
        category,
        product_status,
        cohort_orders,
        gmv,
        avg_unit_price,
        category_median_unit_price,
        counterfeit_rulings
    from {{ ref('int_product_score_inputs') }}

),

product_indicators as (

    select
        subject_id as product_id,
        {{ pivot_indicator_values(indicators) }}
        max(case when indicator = 'gmv' then indicator_score end) as gmv_score,
        max(case when indicator = 'quality_refund_rate' then has_evidence end) as has_quality_refund_evidence,
        {{ pivot_dimension_scores(dimensions) }}
        max(base_score) as base_score
    from {{ ref('int_product_indicator_scores') }}
    group by subject_id

),

tier_rules as (

    select
        gate_tier,
        banned_status,
        cast(gate_max_quality_refund_rate as double) as gate_max_quality_refund_rate,
        small_max_orders_exclusive,
        small_max_tier,
        top_tier,
        top_fallback_tier,
        cast(top_max_quality_refund_rate as double) as top_max_quality_refund_rate,
        top_min_orders,
        selected_goods_tier
    from {{ ref('product_tier_rules') }}

),

tier_bands as (

    select
        tier,
        tier_rank,
        cast(min_score as double) as min_score,
        cast(lead(min_score) over (order by min_score) as double) as next_min_score
    from {{ ref('product_tiers') }}

),

scored as (

    select
        product_inputs.*,
        {{ final_score('product_indicators.base_score', '0', '0') }} as product_score,
        case
            when product_inputs.product_status = tier_rules.banned_status then 'banned'
            when product_inputs.counterfeit_rulings > 0 then 'counterfeit'
            when product_indicators.quality_refund_rate > tier_rules.gate_max_quality_refund_rate
                then 'quality_refund_rate'
        end as gate_reason,
        coalesce(
            product_indicators.has_quality_refund_evidence
            and product_indicators.quality_refund_rate <= tier_rules.top_max_quality_refund_rate,
            false
        ) as meets_top_quality,
        product_inputs.cohort_orders >= tier_rules.top_min_orders as meets_top_orders,
        product_inputs.cohort_orders < tier_rules.small_max_orders_exclusive as is_small
    from product_inputs
    cross join tier_rules
    left join product_indicators
        on product_inputs.product_id = product_indicators.product_id

),

banded as (

    select
        scored.*,
        tier_bands.tier as band_tier
    from scored
    left join tier_bands
        -- no evidence at all cannot happen with >= 1 cohort order (GMV is evidence); it would band lowest
        on coalesce(scored.product_score, 0) >= tier_bands.min_score
        and (tier_bands.next_min_score is null or coalesce(scored.product_score, 0) < tier_bands.next_min_score)

),

tiered as (

    select
        banded.*,
        case
            when banded.gate_reason is not null then tier_rules.gate_tier
            when banded.is_small and band_rank.tier_rank > small_rank.tier_rank then tier_rules.small_max_tier
            when banded.band_tier = tier_rules.top_tier
                and not (banded.meets_top_quality and banded.meets_top_orders)
                then tier_rules.top_fallback_tier
            else banded.band_tier
        end as tier,
        tier_rules.selected_goods_tier
    from banded
    cross join tier_rules
    inner join tier_bands as band_rank
        on banded.band_tier = band_rank.tier
    inner join tier_bands as small_rank
        on tier_rules.small_max_tier = small_rank.tier

),

final as (

    select
        tiered.ds,
        tiered.product_id,
        tiered.shop_id,
        tiered.category,
        tiered.cohort_orders,
        tiered.gmv,
        {{ as_score('product_indicators.brand_score') }} as brand_score,
        {{ as_score('product_indicators.price_score') }} as price_score,
        {{ as_score('product_indicators.distribution_score') }} as distribution_score,
        {{ as_score('product_indicators.service_score') }} as service_score,
        {{ as_score('product_indicators.sales_score') }} as sales_score,
        cast(tiered.product_score as decimal(5, 2)) as product_score,
        tiered.tier,
        tiered.tier = tiered.selected_goods_tier as is_selected_goods,
        tiered.gate_reason,
        tiered.product_status,
        tiered.counterfeit_rulings,
        tiered.avg_unit_price,
        tiered.category_median_unit_price,
        {%- for name in indicators %}
        product_indicators.{{ name }},
        {{ as_score('product_indicators.' ~ name ~ '_score') }} as {{ name }}_score,
        {%- endfor %}
        {{ as_score('product_indicators.gmv_score') }} as gmv_score
    from tiered
    left join product_indicators
        on tiered.product_id = product_indicators.product_id

)

select * from final
