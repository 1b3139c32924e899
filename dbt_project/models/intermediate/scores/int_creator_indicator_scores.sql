{#-
    Creator reputation score (DESIGN §5.3), long format: one row per (ds, creator, indicator).
    Content indicators sum the creator's content metrics of W30; the sold-goods and trust indicators are
    over the cohort orders carrying this creator_id.
-#}
{%- set indicators = [
    ('open_rate', 'opens', 'impressions'),
    ('completion_rate', 'completions', 'plays'),
    ('interaction_rate', 'interactions', 'plays'),
    ('avg_watch_seconds', 'watch_seconds', 'plays'),
    ('quality_refund_rate', 'quality_refund_orders', 'delivered_orders'),
    ('negative_review_rate', 'negative_reviews', 'reviews'),
    ('dispute_rate', 'dispute_orders', 'cohort_orders'),
    ('repeat_buyer_rate', 'repeat_buyers', 'distinct_buyers'),
] -%}

with

creator_window as (

    select * from {{ ref('int_creator_window__w30') }}
    where ds = {{ ds() }}

),

indicator_values as (
    {{ indicator_rows('creator_window', 'creator_id', indicators) }}
),

{{ score_indicator_ctes('indicator_values', 'creator') }}

select * from scored_indicators
