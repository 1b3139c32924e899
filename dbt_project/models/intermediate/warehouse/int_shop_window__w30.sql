-- Shop window sums over the cohort C(W30) as of ds (DESIGN §2, §5.2, §5.6). Grain: ds x shop_id, one row
-- per shop with >= 1 cohort order in W30; orders of shops unknown on ds count under shop '-1'.
with

shops as (

    select shop_id from {{ ref('int_shops__as_of_ds') }}

),

daily as (

    select
        coalesce(shops.shop_id, '-1') as shop_id,
        {{ prefixed_columns(order_measure_names(), 'agg') }}

    from {{ ref('agg_shop_daily') }} as agg
    left join shops
        on agg.shop_id = shops.shop_id
    where {{ in_window_as_of_ds(30, paid_date='agg.paid_date', event_date='agg.event_date') }}

),

sums as (

    select
        shop_id,
        {{ sum_measures(order_measure_names()) }}

    from daily
    group by shop_id

),

buyer_orders as (

    select
        coalesce(shops.shop_id, '-1') as shop_id,
        agg.buyer_id,
        sum(agg.cohort_orders) as cohort_orders

    from {{ ref('agg_shop_buyer_daily') }} as agg
    left join shops
        on agg.shop_id = shops.shop_id
    where {{ in_window_as_of_ds(30, paid_date='agg.paid_date', event_date='agg.event_date') }}
    group by 1, 2

),

buyers as (

    select
        shop_id,
        cast(sum(case when cohort_orders >= 1 then 1 else 0 end) as bigint) as distinct_buyers,
        cast(sum(case when cohort_orders >= 2 then 1 else 0 end) as bigint) as repeat_buyers

    from buyer_orders
    group by shop_id

),

final as (

    select
        {{ ds() }} as ds,
        sums.shop_id,
        sums.cohort_orders,
        sums.gmv,
        sums.delivered_orders,
        sums.quality_refund_orders,
        sums.reviews,
        sums.negative_reviews,
        sums.collect_due_orders,
        sums.collected_48h_orders,
        cast(sums.delivery_seconds_sum as double) / 3600 as delivery_hours_sum,
        sums.refunds_completed,
        sums.refunds_within_sla,
        sums.dispute_orders,
        sums.gmv_live_self,
        sums.gmv_distribution,
        sums.gmv_shelf,
        sums.gmv_fan,
        coalesce(buyers.distinct_buyers, 0) as distinct_buyers,
        coalesce(buyers.repeat_buyers, 0) as repeat_buyers

    from sums
    left join buyers
        on sums.shop_id = buyers.shop_id
    where sums.cohort_orders >= 1

)

select * from final
