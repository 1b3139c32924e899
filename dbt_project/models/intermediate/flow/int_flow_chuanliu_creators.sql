{#-
    川流计划 creators (DESIGN §6), one row per creator with distribution cohort orders in W28: only their
    distribution to eligible chuanliu shops counts. Weight = that distribution GMV(W28) × (score / 100)²
    = weight_numerator / weight_denominator. The score is the mart's effective_score: the reputation score,
    or the default score (70) of a provisional creator. ineligible_reason: the first rule that fails
    (NULL = eligible).
-#}

with

distribution as (

    select creator_id, shop_id, distribution_orders, distribution_gmv
    from {{ ref('int_creator_shop_distribution__w28') }}
    where ds = {{ ds() }}

),

eligible_shops as (

    select recipient_id as shop_id
    from {{ ref('int_flow_chuanliu_shops') }}
    where ineligible_reason is null

),

creators as (

    select creator_id, shop_id, status from {{ ref('int_creators__as_of_ds') }}

),

creator_scores as (

    select creator_id, reputation_score, score_status, effective_score
    from {{ ref('creator_scores_daily') }}
    where ds = {{ ds() }}

),

rules as (

    select chuanliu_creator_min_score
    from {{ ref('flow_eligibility_rules') }}

),


excluding_rulings as (

    select recipient_id as creator_id
    from {{ ref('int_flow_excluding_rulings') }}
    where pool_id = 'chuanliu' and recipient_type = 'creator'

),

per_creator as (

    select
        distribution.creator_id,
        count(distinct case
            when eligible_shops.shop_id is not null and distribution.distribution_orders > 0
                then distribution.shop_id
        end) as eligible_shops,
        cast(coalesce(sum(case
            when eligible_shops.shop_id is not null then distribution.distribution_gmv
        end), 0) as decimal(38, 2)) as eligible_distribution_gmv_w28
    from distribution
    left join eligible_shops
        on distribution.shop_id = eligible_shops.shop_id
    group by distribution.creator_id

),

scored as (

    select
        per_creator.creator_id,
        creators.status,
        creators.shop_id as own_shop_id,
        per_creator.eligible_shops,
        per_creator.eligible_distribution_gmv_w28,
        creator_scores.score_status,
        cast(creator_scores.reputation_score as decimal(5, 2)) as reputation_score,
        cast(creator_scores.effective_score as decimal(5, 2)) as flow_score,
        excluding_rulings.creator_id is not null as has_excluding_ruling
    from per_creator
    left join creators
        on per_creator.creator_id = creators.creator_id
    left join creator_scores
        on per_creator.creator_id = creator_scores.creator_id
    left join excluding_rulings
        on per_creator.creator_id = excluding_rulings.creator_id

),

weighted as (

    select
        scored.*,
        scored.eligible_distribution_gmv_w28 * scored.flow_score * scored.flow_score as weight_numerator
    from scored

),

final as (

    select
        {{ ds() }} as ds,
        'chuanliu' as pool_id,
        'creator' as recipient_type,
        weighted.creator_id as recipient_id,
        weighted.status,
        weighted.own_shop_id,
        weighted.eligible_shops,
        weighted.eligible_distribution_gmv_w28,
        weighted.score_status,
        weighted.reputation_score,
        weighted.flow_score,
        weighted.has_excluding_ruling,
        case
            when weighted.own_shop_id is not null then 'shop_account'
            when weighted.status is distinct from 'active' then 'creator_not_active'
            when weighted.eligible_shops = 0 then 'no_distribution_to_eligible_shop'
            when weighted.flow_score is null then 'no_reputation_score'
            when weighted.flow_score < rules.chuanliu_creator_min_score then 'reputation_score_below_min'
            when weighted.has_excluding_ruling then 'excluding_ruling'
            when weighted.weight_numerator <= 0 then 'zero_weight'
        end as ineligible_reason,
        weighted.weight_numerator,
        100 * 100 as weight_denominator
    from weighted
    cross join rules

)

select * from final
