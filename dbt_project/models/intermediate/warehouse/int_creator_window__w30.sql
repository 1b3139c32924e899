-- Creator window sums as of ds (DESIGN §5.3): content metrics with metric_date in W30 by the content's
-- creator, and the cohort C(W30) of orders carrying the creator_id. Grain: ds x creator_id, one row per
-- creator with content metrics or cohort orders in W30; creators unknown on ds count under '-1'.
{%- set order_columns = ['cohort_orders', 'gmv', 'delivered_orders', 'quality_refund_orders', 'reviews',
                         'negative_reviews', 'dispute_orders'] %}
with

creators as (

    select creator_id from {{ ref('int_creators__as_of_ds') }}

),

content as (

    select
        coalesce(creators.creator_id, '-1') as creator_id,
        cast(count(distinct content.content_id) as bigint) as content_items,
        cast(sum(content.impressions) as bigint) as impressions,
        cast(sum(content.opens) as bigint) as opens,
        cast(sum(content.plays) as bigint) as plays,
        cast(sum(content.completions) as bigint) as completions,
        cast(sum(content.interactions) as bigint) as interactions,
        cast(sum(content.watch_seconds) as bigint) as watch_seconds

    from {{ ref('fct_content_daily') }} as content
    left join creators
        on content.creator_id = creators.creator_id
    where content.metric_date between {{ window_start(30) }} and {{ ds() }}
    group by 1

),

orders as (

    select
        coalesce(creators.creator_id, '-1') as creator_id,
        {{ sum_measures(order_columns, 'agg') }}

    from {{ ref('agg_creator_daily') }} as agg
    left join creators
        on agg.creator_id = creators.creator_id
    where {{ in_window_as_of_ds(30, paid_date='agg.paid_date', event_date='agg.event_date') }}
    group by 1

),

buyer_orders as (

    select
        coalesce(creators.creator_id, '-1') as creator_id,
        agg.buyer_id,
        sum(agg.cohort_orders) as cohort_orders

    from {{ ref('agg_creator_buyer_daily') }} as agg
    left join creators
        on agg.creator_id = creators.creator_id
    where {{ in_window_as_of_ds(30, paid_date='agg.paid_date', event_date='agg.event_date') }}
    group by 1, 2

),

buyers as (

    select
        creator_id,
        cast(sum(case when cohort_orders >= 1 then 1 else 0 end) as bigint) as distinct_buyers,
        cast(sum(case when cohort_orders >= 2 then 1 else 0 end) as bigint) as repeat_buyers

    from buyer_orders
    group by creator_id

),

creators_in_window as (

    select creator_id from content
    union
    select creator_id from orders where cohort_orders >= 1

),

final as (

    select
        {{ ds() }} as ds,
        creators_in_window.creator_id,
        coalesce(content.content_items, 0) as content_items,
        coalesce(content.impressions, 0) as impressions,
        coalesce(content.opens, 0) as opens,
        coalesce(content.plays, 0) as plays,
        coalesce(content.completions, 0) as completions,
        coalesce(content.interactions, 0) as interactions,
        coalesce(content.watch_seconds, 0) as watch_seconds,
        {% for c in order_columns -%}
        coalesce(orders.{{ c }}, 0) as {{ c }},
        {% endfor -%}
        coalesce(buyers.distinct_buyers, 0) as distinct_buyers,
        coalesce(buyers.repeat_buyers, 0) as repeat_buyers

    from creators_in_window
    left join content
        on creators_in_window.creator_id = content.creator_id
    left join orders
        on creators_in_window.creator_id = orders.creator_id
    left join buyers
        on creators_in_window.creator_id = buyers.creator_id

)

select * from final
