{#-
    0粉开播 cold-start shops (DESIGN §6), one row per shop known on ds: the eligibility inputs, the first
    rule that fails (ineligible_reason, NULL = eligible) and the exact weight
    (max_age − age_days) / max_age = weight_numerator / weight_denominator.
-#}

with

shops as (

    select shop_id, status, opened_at, fans_at_open from {{ ref('int_shops__as_of_ds') }}

),

flow_window as (

    select shop_id, live_sessions_w7
    from {{ ref('int_flow_window') }}
    where ds = {{ ds() }}

),

shop_window as (

    select shop_id, cohort_orders, delivered_orders, quality_refund_orders
    from {{ ref('int_shop_window__w30') }}
    where ds = {{ ds() }}

),

rules as (

    select
        cold_start_max_age_days,
        cold_start_max_fans_at_open,
        cold_start_min_live_sessions_w7,
        cold_start_refund_check_min_orders,
        cold_start_max_quality_refund_rate
    from {{ ref('flow_eligibility_rules') }}

),

joined as (

    select
        shops.shop_id,
        shops.status,
        shops.opened_at,
        {{ dbt.datediff('shops.opened_at', ds(), 'day') }} as age_days,
        shops.fans_at_open,
        coalesce(flow_window.live_sessions_w7, 0) as live_sessions_w7,
        coalesce(shop_window.cohort_orders, 0) as cohort_orders,
        coalesce(shop_window.delivered_orders, 0) as delivered_orders,
        coalesce(shop_window.quality_refund_orders, 0) as quality_refund_orders
    from shops
    left join flow_window
        on shops.shop_id = flow_window.shop_id
    left join shop_window
        on shops.shop_id = shop_window.shop_id

),

final as (

    select
        {{ ds() }} as ds,
        'cold_start' as pool_id,
        'shop' as recipient_type,
        joined.shop_id as recipient_id,
        joined.status,
        joined.opened_at,
        joined.age_days,
        joined.fans_at_open,
        joined.live_sessions_w7,
        joined.cohort_orders,
        joined.delivered_orders,
        joined.quality_refund_orders,
        case
            when joined.status is distinct from 'active' then 'shop_not_active'
            when joined.age_days is null or joined.age_days < 0 or joined.age_days >= rules.cold_start_max_age_days
                then 'age_out_of_range'
            when joined.fans_at_open is null or joined.fans_at_open > rules.cold_start_max_fans_at_open
                then 'fans_at_open_above_max'
            when joined.live_sessions_w7 < rules.cold_start_min_live_sessions_w7 then 'too_few_live_sessions_w7'
            {#- rate = quality refunds / delivered orders, compared without division (exact); no delivered
                order = no evidence = not above the limit -#}
            when joined.cohort_orders >= rules.cold_start_refund_check_min_orders
                and joined.delivered_orders > 0
                and joined.quality_refund_orders > rules.cold_start_max_quality_refund_rate * joined.delivered_orders
                then 'quality_refund_rate_above_max'
        end as ineligible_reason,
        cast(rules.cold_start_max_age_days - joined.age_days as decimal(38, 6)) as weight_numerator,
        rules.cold_start_max_age_days as weight_denominator
    from joined
    cross join rules

)

select * from final
