{#-
    Published: service-provider score, tier and action (DESIGN §5.5), one row per (ds, provider) active on
    ds. Incremental by ds. The tier is the first of the provider_tiers seed (by rank) whose annualised-GMV
    and served-quality floors are both met (a NULL served_quality counts as 0: it meets only a 0 floor);
    the action is the band of provider_actions holding served_quality (min inclusive, next min exclusive),
    and the `is_default` action (keep) when served_quality is NULL.
-#}
{%- set indicators = ['served_quality', 'served_gmv_growth', 'capability_coverage'] -%}

with

provider_inputs as (

    select
        ds,
        provider_id,
        provider_type,
        served_shops,
        gmv_w30,
        gmv_prev30,
        annualized_gmv,
        served_quality
    from {{ ref('int_provider_score_inputs') }}

),

provider_indicators as (

    select
        subject_id as provider_id,
        {{ pivot_indicator_values(indicators) }}
        max(case when indicator = 'annualized_gmv' then indicator_score end) as annualized_gmv_score,
        max(base_score) as base_score
    from {{ ref('int_provider_indicator_scores') }}
    group by subject_id

),

deductions as (

    select subject_id as provider_id, deduction_points
    from {{ ref('int_score_deductions') }}
    where score_name = 'provider'

),

policy as (

    select deduction_cap
    from {{ ref('score_deduction_policies') }}
    where score_name = 'provider'

),

tiers as (

    select
        tier,
        tier_rank,
        cast(min_annualized_gmv as decimal(18, 2)) as min_annualized_gmv,
        cast(min_served_quality as double) as min_served_quality
    from {{ ref('provider_tiers') }}

),

actions as (

    select
        action,
        action_rank,
        min_served_quality,
        lead(min_served_quality) over (order by min_served_quality) as next_min_served_quality,
        is_default
    from {{ ref('provider_actions') }}

),

tier_matches as (

    select
        provider_inputs.provider_id,
        min(tiers.tier_rank) as tier_rank
    from provider_inputs
    inner join tiers
        on provider_inputs.annualized_gmv >= tiers.min_annualized_gmv
        -- no served quality (no scored shop with GMV) counts as 0 against the quality floors
        and coalesce(provider_inputs.served_quality, 0) >= tiers.min_served_quality
    group by provider_inputs.provider_id

),

action_matches as (

    select
        provider_inputs.provider_id,
        min(actions.action_rank) as action_rank
    from provider_inputs
    inner join actions
        on (provider_inputs.served_quality is null and actions.is_default)
        or (
            provider_inputs.served_quality >= actions.min_served_quality
            and (actions.next_min_served_quality is null
                or provider_inputs.served_quality < actions.next_min_served_quality)
        )
    group by provider_inputs.provider_id

),

final as (

    select
        provider_inputs.ds,
        provider_inputs.provider_id,
        provider_inputs.provider_type,
        provider_inputs.served_shops,
        provider_inputs.gmv_w30,
        provider_inputs.annualized_gmv,
        cast(
            {{ final_score('provider_indicators.base_score', 'deductions.deduction_points', 'policy.deduction_cap') }}
            as decimal(5, 2)
        ) as provider_score,
        tiers.tier,
        actions.action,
        cast(least(coalesce(deductions.deduction_points, 0), policy.deduction_cap) as decimal(5, 2))
            as deductions,
        provider_inputs.gmv_prev30,
        {%- for name in indicators %}
        provider_indicators.{{ name }},
        {{ as_score('provider_indicators.' ~ name ~ '_score') }} as {{ name }}_score,
        {%- endfor %}
        {{ as_score('provider_indicators.annualized_gmv_score') }} as annualized_gmv_score
    from provider_inputs
    cross join policy
    left join provider_indicators
        on provider_inputs.provider_id = provider_indicators.provider_id
    left join deductions
        on provider_inputs.provider_id = deductions.provider_id
    left join tier_matches
        on provider_inputs.provider_id = tier_matches.provider_id
    left join tiers
        on tier_matches.tier_rank = tiers.tier_rank
    left join action_matches
        on provider_inputs.provider_id = action_matches.provider_id
    left join actions
        on action_matches.action_rank = actions.action_rank

)

select * from final
