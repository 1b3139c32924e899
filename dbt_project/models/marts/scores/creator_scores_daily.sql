{#-
    Published: creator reputation score and stars (DESIGN §5.3), one row per (ds, creator) with content
    metrics or cohort orders in W30. Incremental by ds.
-#}
{%- set indicators = [
    'open_rate', 'completion_rate', 'interaction_rate', 'avg_watch_seconds',
    'quality_refund_rate', 'negative_review_rate', 'dispute_rate', 'repeat_buyer_rate',
] -%}
{%- set dimensions = {
    'content': 'content_score',
    'sold_goods': 'sold_goods_score',
    'trust': 'trust_score',
} -%}

with

creator_window as (

    select ds, creator_id, cohort_orders, gmv
    from {{ ref('int_creator_window__w30') }}
    where ds = {{ ds() }}

),

creator_indicators as (

    select
        subject_id as creator_id,
        {{ pivot_indicator_values(indicators) }}
        {{ pivot_dimension_scores(dimensions) }}
        max(base_score) as base_score
    from {{ ref('int_creator_indicator_scores') }}
    group by subject_id

),

deductions as (

    select subject_id as creator_id, deduction_points
    from {{ ref('int_score_deductions') }}
    where score_name = 'creator'

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
    where score_policies.score_name = 'creator'

),

totals as (

    select
        creator_window.creator_id,
        least(coalesce(deductions.deduction_points, 0), policy.deduction_cap) as deductions,
        {{ final_score('creator_indicators.base_score', 'deductions.deduction_points', 'policy.deduction_cap') }}
            as reputation_score,
        creator_window.cohort_orders < policy.provisional_min_orders as is_provisional,
        policy.provisional_default_score,
        policy.stars_base,
        policy.stars_span
    from creator_window
    cross join policy
    left join creator_indicators
        on creator_window.creator_id = creator_indicators.creator_id
    left join deductions
        on creator_window.creator_id = deductions.creator_id

),

statuses as (

    select
        creator_id,
        deductions,
        reputation_score,
        case when is_provisional or reputation_score is null then 'provisional' else 'scored' end
            as score_status,
        -- the score used for flow eligibility: the default score while provisional
        case when is_provisional or reputation_score is null then provisional_default_score
            else reputation_score
        end as effective_score,
        case when not is_provisional and reputation_score is not null
            then {{ score_stars('reputation_score', 'stars_base', 'stars_span') }}
        end as stars
    from totals

),

final as (

    select
        creator_window.ds,
        creator_window.creator_id,
        creator_window.cohort_orders,
        creator_window.gmv,
        {{ as_score('creator_indicators.content_score') }} as content_score,
        {{ as_score('creator_indicators.sold_goods_score') }} as sold_goods_score,
        {{ as_score('creator_indicators.trust_score') }} as trust_score,
        cast(statuses.deductions as decimal(5, 2)) as deductions,
        cast(statuses.reputation_score as decimal(5, 2)) as reputation_score,
        cast(statuses.stars as decimal(3, 2)) as stars,
        statuses.score_status,
        cast(statuses.effective_score as decimal(5, 2)) as effective_score,
        {%- for name in indicators %}
        creator_indicators.{{ name }},
        {{ as_score('creator_indicators.' ~ name ~ '_score') }} as {{ name }}_score,
        {%- endfor %}
        {{ as_score('creator_indicators.base_score') }} as base_score
    from creator_window
    inner join statuses
        on creator_window.creator_id = statuses.creator_id
    left join creator_indicators
        on creator_window.creator_id = creator_indicators.creator_id

)

select * from final
