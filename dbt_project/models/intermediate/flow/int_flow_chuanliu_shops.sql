{#-
    川流计划 shops (DESIGN §6), one row per shop with W28 activity: the eligibility inputs, the first rule
    that fails (ineligible_reason, NULL = eligible) and the exact weight
    distribution GMV(W28) × (score / 100)² = weight_numerator / weight_denominator.
    The score is the mart's effective_score (= experience_score for a scored shop); a provisional shop is
    never eligible (§6: non-provisional score; §5.2: it counts as the default score 70 < 75).
-#}

with

flow_window as (

    select shop_id, distribution_gmv_w28, live_sessions_w28
    from {{ ref('int_flow_window') }}
    where ds = {{ ds() }}

),

shops as (

    select shop_id, status from {{ ref('int_shops__as_of_ds') }}

),

shop_scores as (

    select shop_id, experience_score, score_status, effective_score
    from {{ ref('shop_scores_daily') }}
    where ds = {{ ds() }}

),

rules as (

    select chuanliu_shop_min_score, chuanliu_shop_min_live_sessions_w28
    from {{ ref('flow_eligibility_rules') }}

),


excluding_rulings as (

    select recipient_id as shop_id
    from {{ ref('int_flow_excluding_rulings') }}
    where pool_id = 'chuanliu' and recipient_type = 'shop'

),

scored as (

    select
        flow_window.shop_id,
        shops.status,
        cast(flow_window.distribution_gmv_w28 as decimal(38, 2)) as distribution_gmv_w28,
        flow_window.live_sessions_w28,
        shop_scores.score_status,
        cast(shop_scores.experience_score as decimal(5, 2)) as experience_score,
        cast(shop_scores.effective_score as decimal(5, 2)) as flow_score,
        excluding_rulings.shop_id is not null as has_excluding_ruling
    from flow_window
    left join shops
        on flow_window.shop_id = shops.shop_id
    left join shop_scores
        on flow_window.shop_id = shop_scores.shop_id
    left join excluding_rulings
        on flow_window.shop_id = excluding_rulings.shop_id

),

weighted as (

    select
        scored.*,
        scored.distribution_gmv_w28 * scored.flow_score * scored.flow_score as weight_numerator
    from scored

),

final as (

    select
        {{ ds() }} as ds,
        'chuanliu' as pool_id,
        'shop' as recipient_type,
        weighted.shop_id as recipient_id,
        weighted.status,
        weighted.distribution_gmv_w28,
        weighted.live_sessions_w28,
        weighted.score_status,
        weighted.experience_score,
        weighted.flow_score,
        weighted.has_excluding_ruling,
        case
            when weighted.status is distinct from 'active' then 'shop_not_active'
            when coalesce(weighted.distribution_gmv_w28, 0) <= 0 then 'no_distribution_gmv_w28'
            when coalesce(weighted.live_sessions_w28, 0) < rules.chuanliu_shop_min_live_sessions_w28
                then 'too_few_live_sessions_w28'
            when weighted.flow_score is null then 'no_experience_score'
            when weighted.score_status is distinct from 'scored' then 'provisional_score'
            when weighted.flow_score < rules.chuanliu_shop_min_score then 'experience_score_below_min'
            when weighted.has_excluding_ruling then 'excluding_ruling'
            when weighted.weight_numerator <= 0 then 'zero_weight'
        end as ineligible_reason,
        weighted.weight_numerator,
        100 * 100 as weight_denominator
    from weighted
    cross join rules

)

select * from final
