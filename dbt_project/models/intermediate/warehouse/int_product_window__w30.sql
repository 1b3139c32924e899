-- Product window sums over C(W30) as of ds (DESIGN §5.4). Grain: ds x product_id, one row per product
-- with >= 1 cohort order in W30; shop_id and category come from the product master as of ds; products
-- unknown on ds count under '-1' (shop '-1', category 'unknown').
{%- set order_columns = ['cohort_orders', 'gmv', 'quantity', 'gmv_distribution', 'delivered_orders',
                         'quality_refund_orders', 'reviews', 'negative_reviews', 'dispute_orders'] %}
with

products as (

    select
        product_id,
        shop_id,
        category

    from {{ ref('int_products__as_of_ds') }}

),

daily as (

    select
        coalesce(products.product_id, '-1') as product_id,
        agg.paid_date,
        {{ sum_measures(order_columns, 'agg') }}

    from {{ ref('agg_product_daily') }} as agg
    left join products
        on agg.product_id = products.product_id
    where {{ in_window_as_of_ds(30, paid_date='agg.paid_date', event_date='agg.event_date') }}
    group by 1, 2

),

sums as (

    select
        product_id,
        {{ sum_measures(order_columns) }}

    from daily
    group by product_id

),

-- price_cv (DESIGN §5.4): population CV of the daily average unit price x_d = Σpay/Σqty over the sale
-- days d (cohort orders >= 1) = sqrt(n Σx² - (Σx)²) / Σx, summed exactly in decimals.
daily_prices as (

    select
        product_id,
        cast(gmv / quantity as decimal(18, 6)) as unit_price

    from daily
    where cohort_orders >= 1
      and quantity > 0

),

price_moments as (

    select
        product_id,
        cast(count(*) as bigint) as sale_days,
        cast(sum(unit_price) as decimal(38, 6)) as sum_price,
        cast(sum(cast(unit_price as decimal(38, 6)) * cast(unit_price as decimal(38, 6))) as decimal(38, 12))
            as sum_price_squared

    from daily_prices
    group by product_id

),

price_stats as (

    select
        product_id,
        sale_days,
        case
            when sale_days <= 1 or sum_price = 0 then cast(0 as double)
            else sqrt(greatest(cast(
                    cast(sale_days as decimal(38, 0)) * sum_price_squared
                    - cast(sum_price * sum_price as decimal(38, 12))
                as double), 0))
                / cast(sum_price as double)
        end as price_cv

    from price_moments

),

distributors as (

    select
        agg.product_id,
        agg.creator_id,
        sum(agg.distribution_orders) as distribution_orders

    from {{ ref('agg_distribution_daily') }} as agg
    where {{ in_window_as_of_ds(30, paid_date='agg.paid_date', event_date='agg.event_date') }}
    group by 1, 2

),

active_distributors as (

    select
        coalesce(products.product_id, '-1') as product_id,
        cast(count(distinct distributors.creator_id) as bigint) as active_distributors

    from distributors
    left join products
        on distributors.product_id = products.product_id
    where distributors.distribution_orders >= 1
    group by 1

),

buyer_orders as (

    select
        coalesce(products.product_id, '-1') as product_id,
        agg.buyer_id,
        sum(agg.cohort_orders) as cohort_orders

    from {{ ref('agg_product_buyer_daily') }} as agg
    left join products
        on agg.product_id = products.product_id
    where {{ in_window_as_of_ds(30, paid_date='agg.paid_date', event_date='agg.event_date') }}
    group by 1, 2

),

buyers as (

    select
        product_id,
        cast(sum(case when cohort_orders >= 1 then 1 else 0 end) as bigint) as distinct_buyers,
        cast(sum(case when cohort_orders >= 2 then 1 else 0 end) as bigint) as repeat_buyers

    from buyer_orders
    group by product_id

),

final as (

    select
        {{ ds() }} as ds,
        sums.product_id,
        coalesce(products.shop_id, '-1') as shop_id,
        coalesce(products.category, 'unknown') as category,
        sums.cohort_orders,
        sums.gmv,
        sums.quantity,
        sums.gmv_distribution as distribution_gmv,
        coalesce(active_distributors.active_distributors, 0) as active_distributors,
        sums.delivered_orders,
        sums.quality_refund_orders,
        sums.reviews,
        sums.negative_reviews,
        sums.dispute_orders,
        coalesce(buyers.distinct_buyers, 0) as distinct_buyers,
        coalesce(buyers.repeat_buyers, 0) as repeat_buyers,
        coalesce(price_stats.sale_days, 0) as sale_days,
        coalesce(price_stats.price_cv, 0) as price_cv

    from sums
    left join products
        on sums.product_id = products.product_id
    left join price_stats
        on sums.product_id = price_stats.product_id
    left join active_distributors
        on sums.product_id = active_distributors.product_id
    left join buyers
        on sums.product_id = buyers.product_id
    where sums.cohort_orders >= 1

)

select * from final
