-- Shop cohort GMV over PREV30 = ds-59 .. ds-30, as of ds (DESIGN §5.5 served_gmv_growth).
-- Grain: ds x shop_id, shops with >= 1 cohort order in PREV30; unknown shops under '-1'.
with

shops as (

    select shop_id from {{ ref('int_shops__as_of_ds') }}

),

sums as (

    select
        coalesce(shops.shop_id, '-1') as shop_id,
        cast(sum(agg.cohort_orders) as bigint) as cohort_orders,
        cast(sum(agg.gmv) as decimal(18, 2)) as gmv_prev30

    from {{ ref('agg_shop_daily') }} as agg
    left join shops
        on agg.shop_id = shops.shop_id
    where {{ in_window_as_of_ds(30, offset=30, paid_date='agg.paid_date', event_date='agg.event_date') }}
    group by 1

),

final as (

    select
        {{ ds() }} as ds,
        shop_id,
        gmv_prev30

    from sums
    where cohort_orders >= 1

)

select * from final
