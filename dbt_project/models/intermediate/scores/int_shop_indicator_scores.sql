{#-
    Shop experience score (DESIGN §5.2), long format: one row per (ds, shop, indicator).
    The indicator definitions (numerator / denominator over C(W30) of the shop) are here; the scoring
    (anchors, weights, renormalisation) is the shared mechanism of macros/scoring/score_indicators.sql.
-#}
{%- set indicators = [
    ('quality_refund_rate', 'quality_refund_orders', 'delivered_orders'),
    ('negative_review_rate', 'negative_reviews', 'reviews'),
    ('collect_48h_rate', 'collected_48h_orders', 'collect_due_orders'),
    ('avg_delivery_hours', 'delivery_hours_sum', 'delivered_orders'),
    ('refund_sla_rate', 'refunds_within_sla', 'refunds_completed'),
    ('dispute_rate', 'dispute_orders', 'cohort_orders'),
] -%}

with

shop_window as (

    select * from {{ ref('int_shop_window__w30') }}
    where ds = {{ ds() }}

),

indicator_values as (
    {{ indicator_rows('shop_window', 'shop_id', indicators) }}
),

{{ score_indicator_ctes('indicator_values', 'shop') }}

select * from scored_indicators
