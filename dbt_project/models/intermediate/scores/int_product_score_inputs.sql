{#-
    Everything the product score and its tier gates need (DESIGN §5.4), one row per (ds, product) with
    ≥ 1 cohort order in W30: the window sums, the price figures, the selling shop's brand level and
    experience score, and the gate inputs (status, counterfeit rulings in the lookback).
-#}

with

product_window as (

    select * from {{ ref('int_product_window__w30') }}
    where ds = {{ ds() }}

),

products as (

    select product_id, status from {{ ref('int_products__as_of_ds') }}

),

shops as (

    select shop_id, brand_level from {{ ref('int_shops__as_of_ds') }}

),

brand_level_values as (

    select brand_level, cast(brand_level_score as double) as brand_level_score
    from {{ ref('brand_level_values') }}

),

shop_policy as (

    select cast(provisional_default_score as double) as provisional_default_score
    from {{ ref('score_policies') }}
    where score_name = 'shop'

),

shop_scores as (

    select shop_id, effective_score
    from {{ ref('shop_scores_daily') }}
    where ds = {{ ds() }}

),

tier_rules as (

    select counterfeit_violation_type, counterfeit_lookback_days
    from {{ ref('product_tier_rules') }}

),

violations as (

    select subject_type, subject_id, violation_type, ruled_date
    from {{ ref('fct_violations') }}

),

unit_prices as (

    select
        product_id,
        case when quantity > 0 then cast(gmv as double) / quantity end as avg_unit_price
    from product_window

),

category_prices as (

    select
        product_window.category,
        percentile_cont(0.5) within group (order by unit_prices.avg_unit_price) as category_median_unit_price
    from product_window
    inner join unit_prices
        on product_window.product_id = unit_prices.product_id
    group by product_window.category

),

counterfeit_rulings as (

    -- a counterfeit ruling on the product or on its shop in ds-(lookback-1) … ds
    select
        product_window.product_id,
        count(*) as counterfeit_rulings
    from product_window
    cross join tier_rules
    inner join violations
        on violations.violation_type = tier_rules.counterfeit_violation_type
        and (
            (violations.subject_type = 'product' and violations.subject_id = product_window.product_id)
            or (violations.subject_type = 'shop' and violations.subject_id = product_window.shop_id)
        )
        and {{ dbt.datediff('violations.ruled_date', ds(), 'day') }}
            between 0 and tier_rules.counterfeit_lookback_days - 1
    group by product_window.product_id

),

final as (

    select
        product_window.ds,
        product_window.product_id,
        product_window.shop_id,
        product_window.category,
        products.status as product_status,
        product_window.cohort_orders,
        product_window.gmv,
        product_window.quantity,
        product_window.distribution_gmv,
        product_window.active_distributors,
        product_window.delivered_orders,
        product_window.quality_refund_orders,
        product_window.reviews,
        product_window.negative_reviews,
        product_window.dispute_orders,
        product_window.distinct_buyers,
        product_window.repeat_buyers,
        product_window.sale_days,
        product_window.price_cv,
        unit_prices.avg_unit_price,
        category_prices.category_median_unit_price,
        shops.brand_level,
        brand_level_values.brand_level_score,
        coalesce(shop_scores.effective_score, shop_policy.provisional_default_score) as shop_experience_score,
        coalesce(counterfeit_rulings.counterfeit_rulings, 0) as counterfeit_rulings
    from product_window
    cross join shop_policy
    left join products
        on product_window.product_id = products.product_id
    left join shops
        on product_window.shop_id = shops.shop_id
    left join brand_level_values
        on shops.brand_level = brand_level_values.brand_level
    left join shop_scores
        on product_window.shop_id = shop_scores.shop_id
    left join unit_prices
        on product_window.product_id = unit_prices.product_id
    left join category_prices
        on product_window.category = category_prices.category
    left join counterfeit_rulings
        on product_window.product_id = counterfeit_rulings.product_id

)

select * from final
