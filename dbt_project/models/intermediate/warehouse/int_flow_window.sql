-- Shop inputs of flow allocation (DESIGN §6) as of ds. Grain: ds x shop_id, one row per shop with
-- distribution cohort GMV or a live session in W28. distribution_gmv_w28 = Σ pay_amount of the shop's
-- distribution-channel cohort orders in W28; live_sessions_w28 / _w7 = distinct live content items of
-- the shop's own account(s) (creators whose shop_id is the shop, as of ds) in W28 / W7.
with

shops as (

    select shop_id from {{ ref('int_shops__as_of_ds') }}

),

shop_accounts as (

    select
        creator_id,
        shop_id

    from {{ ref('int_creators__as_of_ds') }}
    where shop_id is not null

),

distribution as (

    select
        coalesce(shops.shop_id, '-1') as shop_id,
        cast(sum(agg.gmv_distribution) as decimal(18, 2)) as distribution_gmv_w28

    from {{ ref('agg_shop_daily') }} as agg
    left join shops
        on agg.shop_id = shops.shop_id
    where {{ in_window_as_of_ds(28, paid_date='agg.paid_date', event_date='agg.event_date') }}
    group by 1

),

live_sessions as (

    select
        shop_accounts.shop_id,
        cast(count(distinct content.content_id) as bigint) as live_sessions_w28,
        cast(count(distinct case
            when content.metric_date >= {{ window_start(7) }} then content.content_id
        end) as bigint) as live_sessions_w7

    from {{ ref('fct_content_daily') }} as content
    inner join shop_accounts
        on content.creator_id = shop_accounts.creator_id
    where content.content_type = 'live'
      and content.metric_date between {{ window_start(28) }} and {{ ds() }}
    group by 1

),

shops_in_window as (

    select shop_id from distribution where distribution_gmv_w28 > 0
    union
    select shop_id from live_sessions

),

final as (

    select
        {{ ds() }} as ds,
        shops_in_window.shop_id,
        coalesce(distribution.distribution_gmv_w28, 0) as distribution_gmv_w28,
        coalesce(live_sessions.live_sessions_w28, 0) as live_sessions_w28,
        coalesce(live_sessions.live_sessions_w7, 0) as live_sessions_w7

    from shops_in_window
    left join distribution
        on shops_in_window.shop_id = distribution.shop_id
    left join live_sessions
        on shops_in_window.shop_id = live_sessions.shop_id

)

select * from final
