-- A creator's distribution for a shop (DESIGN §6 chuanliu creators) as of ds: distribution-channel
-- cohort orders in W28 with this creator_id at this shop. Grain: ds x creator_id x shop_id, pairs with
-- >= 1 such order; creators / shops unknown on ds count under '-1'.
with

creators as (

    select creator_id from {{ ref('int_creators__as_of_ds') }}

),

shops as (

    select shop_id from {{ ref('int_shops__as_of_ds') }}

),

sums as (

    select
        coalesce(creators.creator_id, '-1') as creator_id,
        coalesce(shops.shop_id, '-1') as shop_id,
        cast(sum(agg.distribution_orders) as bigint) as distribution_orders,
        cast(sum(agg.gmv_distribution) as decimal(18, 2)) as distribution_gmv

    from {{ ref('agg_distribution_daily') }} as agg
    left join creators
        on agg.creator_id = creators.creator_id
    left join shops
        on agg.shop_id = shops.shop_id
    where {{ in_window_as_of_ds(28, paid_date='agg.paid_date', event_date='agg.event_date') }}
    group by 1, 2

),

final as (

    select
        {{ ds() }} as ds,
        creator_id,
        shop_id,
        distribution_orders,
        distribution_gmv

    from sums
    where distribution_orders >= 1

)

select * from final
