{#-
    Published: shop experience score, grade, rights, settlement days (DESIGN §5.2), growth stage and
    channel mix (§5.6), one row per (ds, shop) with ≥ 1 cohort order in W30. Incremental by ds.
-#}
{%- set indicators = [
    'quality_refund_rate', 'negative_review_rate', 'collect_48h_rate',
    'avg_delivery_hours', 'refund_sla_rate', 'dispute_rate',
] -%}
{%- set dimensions = {
    'product_experience': 'product_experience_score',
    'logistics': 'logistics_score',
    'after_sales': 'after_sales_score',
} -%}

with

shop_window as (

    select
        ds,
        shop_id,
        cohort_orders,
        gmv,
        gmv_live_self,
        gmv_distribution,
        gmv_shelf,
        gmv_fan,
        distinct_buyers,
        repeat_buyers
    from {{ ref('int_shop_window__w30') }}
    where ds = {{ ds() }}

),

shop_indicators as (

    select
        subject_id as shop_id,
        {{ pivot_indicator_values(indicators) }}
        {{ pivot_dimension_scores(dimensions) }}
        max(base_score) as base_score
    from {{ ref('int_shop_indicator_scores') }}
    group by subject_id

),

deductions as (

    select subject_id as shop_id, deduction_points
    from {{ ref('int_score_deductions') }}
    where score_name = 'shop'

),

policy as (

    select
        deduction_policies.deduction_cap,
        score_policies.provisional_min_orders,
        score_policies.provisional_default_score,
        score_policies.stars_base,
        score_policies.stars_span
    from {{ ref('score_policies') }} as score_policies
    inner join {{ ref('score_deduction_policies') }} as deduction_policies
        on score_policies.score_name = deduction_policies.score_name
    where score_policies.score_name = 'shop'

),

shops as (

    select shop_id, brand_level, opened_at from {{ ref('int_shops__as_of_ds') }}

),

known_brand_levels as (

    select brand_level from {{ ref('brand_level_values') }}

),

grade_bands as (

    select
        grade,
        cast(min_score as double) as min_score,
        cast(lead(min_score) over (order by min_score) as double) as next_min_score,
        settlement_days
    from {{ ref('shop_grades') }}

),

grade_rights as (

    select
        grade,
        {{ dbt.listagg('right_code', "';'", 'order by right_order') }} as rights
    from {{ ref('shop_grade_rights') }}
    group by grade

),

growth_rules as (

    select
        new_store_min_orders,
        new_store_max_age_days,
        cast(climbing_max_gmv_exclusive as decimal(18, 2)) as climbing_max_gmv_exclusive,
        cast(ska_min_gmv as decimal(18, 2)) as ska_min_gmv,
        ska_excluded_brand_level
    from {{ ref('growth_stage_rules') }}

),

totals as (

    select
        shop_window.shop_id,
        least(coalesce(deductions.deduction_points, 0), policy.deduction_cap) as deductions,
        {{ final_score('shop_indicators.base_score', 'deductions.deduction_points', 'policy.deduction_cap') }}
            as experience_score,
        shop_window.cohort_orders < policy.provisional_min_orders as is_provisional,
        policy.provisional_default_score,
        policy.stars_base,
        policy.stars_span
    from shop_window
    cross join policy
    left join shop_indicators
        on shop_window.shop_id = shop_indicators.shop_id
    left join deductions
        on shop_window.shop_id = deductions.shop_id

),

statuses as (

    select
        shop_id,
        deductions,
        experience_score,
        case when is_provisional or experience_score is null then 'provisional' else 'scored' end
            as score_status,
        -- a provisional shop is graded, entitled and settled as the default score
        case when is_provisional or experience_score is null then provisional_default_score
            else experience_score
        end as effective_score,
        case when not is_provisional and experience_score is not null
            then {{ score_stars('experience_score', 'stars_base', 'stars_span') }}
        end as stars
    from totals

),

final as (

    select
        shop_window.ds,
        shop_window.shop_id,
        shop_window.cohort_orders,
        shop_window.gmv,
        {{ as_score('shop_indicators.product_experience_score') }} as product_experience_score,
        {{ as_score('shop_indicators.logistics_score') }} as logistics_score,
        {{ as_score('shop_indicators.after_sales_score') }} as after_sales_score,
        cast(statuses.deductions as decimal(5, 2)) as deductions,
        cast(statuses.experience_score as decimal(5, 2)) as experience_score,
        cast(statuses.stars as decimal(3, 2)) as stars,
        grade_bands.grade,
        statuses.score_status,
        cast(statuses.effective_score as decimal(5, 2)) as effective_score,
        coalesce(grade_rights.rights, '') as rights,
        grade_bands.settlement_days,
        case
            when shop_window.cohort_orders < growth_rules.new_store_min_orders
                or {{ dbt.datediff('shops.opened_at', 'shop_window.ds', 'day') }}
                <= growth_rules.new_store_max_age_days
                then 'new_store'
            when shop_window.gmv < growth_rules.climbing_max_gmv_exclusive then 'climbing'
            -- an unknown brand level (the dimension's unknown member, a shop missing from it) is never ska
            when shop_window.gmv >= growth_rules.ska_min_gmv
                and known_brand_levels.brand_level is not null
                and known_brand_levels.brand_level <> growth_rules.ska_excluded_brand_level
                then 'ska'
            else 'industry_ka'
        end as growth_stage,
        {{ safe_ratio('shop_window.gmv_live_self', 'shop_window.gmv') }} as self_broadcast_share,
        {{ safe_ratio('shop_window.gmv_distribution', 'shop_window.gmv') }} as distribution_share,
        {{ safe_ratio('shop_window.gmv_shelf', 'shop_window.gmv') }} as shelf_share,
        {{ safe_ratio('shop_window.gmv_fan', 'shop_window.gmv') }} as fan_share,
        {{ safe_ratio('shop_window.repeat_buyers', 'shop_window.distinct_buyers') }} as repeat_buyer_rate,
        {%- for name in indicators %}
        shop_indicators.{{ name }},
        {{ as_score('shop_indicators.' ~ name ~ '_score') }} as {{ name }}_score,
        {%- endfor %}
        {{ as_score('shop_indicators.base_score') }} as base_score
    from shop_window
    inner join statuses
        on shop_window.shop_id = statuses.shop_id
    cross join growth_rules
    left join shop_indicators
        on shop_window.shop_id = shop_indicators.shop_id
    left join shops
        on shop_window.shop_id = shops.shop_id
    left join known_brand_levels
        on shops.brand_level = known_brand_levels.brand_level
    left join grade_bands
        on statuses.effective_score >= grade_bands.min_score
        and (grade_bands.next_min_score is null or statuses.effective_score < grade_bands.next_min_score)
    left join grade_rights
        on grade_bands.grade = grade_rights.grade

)

select * from final
