{#-
    Service-provider score (DESIGN §5.5), long format: one row per (ds, provider, indicator); each
    indicator is its own dimension (see the anchors seed).
    served_gmv_growth = GMV(W30) / GMV(PREV30) − 1 = (GMV(W30) − GMV(PREV30)) / GMV(PREV30): no evidence
    when PREV30 GMV is 0.
-#}
{%- set indicators = [
    ('served_quality', 'served_quality_weighted', 'served_quality_gmv'),
    ('served_gmv_growth', 'gmv_w30 - gmv_prev30', 'gmv_prev30'),
    ('annualized_gmv', 'annualized_gmv', '1'),
    ('capability_coverage', 'capability_count', 'capability_total'),
] -%}

with

provider_inputs as (

    select * from {{ ref('int_provider_score_inputs') }}

),

indicator_values as (
    {{ indicator_rows('provider_inputs', 'provider_id', indicators) }}
),

{{ score_indicator_ctes('indicator_values', 'provider') }}

select * from scored_indicators
