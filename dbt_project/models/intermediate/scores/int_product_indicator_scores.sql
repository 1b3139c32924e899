{#-
    Product score (DESIGN §5.4, the five-dimension matrix), long format: one row per (ds, product, indicator).
    Direct values (brand level, shop score, price_cv, distributors, GMV) have denominator 1; a NULL value
    (a shop with no brand level on record) has no evidence.
-#}
{%- set indicators = [
    ('brand_level_score', 'brand_level_score', '1'),
    ('shop_experience_score', 'shop_experience_score', '1'),
    ('price_index', 'avg_unit_price', 'category_median_unit_price'),
    ('price_cv', 'price_cv', '1'),
    ('active_distributors', 'active_distributors', '1'),
    ('distribution_gmv_share', 'distribution_gmv', 'gmv'),
    ('quality_refund_rate', 'quality_refund_orders', 'delivered_orders'),
    ('negative_review_rate', 'negative_reviews', 'reviews'),
    ('dispute_rate', 'dispute_orders', 'cohort_orders'),
    ('gmv', 'gmv', '1'),
    ('repurchase_rate', 'repeat_buyers', 'distinct_buyers'),
] -%}

with

product_inputs as (

    select * from {{ ref('int_product_score_inputs') }}

),

indicator_values as (
    {{ indicator_rows('product_inputs', 'product_id', indicators) }}
),

{{ score_indicator_ctes('indicator_values', 'product') }}

select * from scored_indicators
