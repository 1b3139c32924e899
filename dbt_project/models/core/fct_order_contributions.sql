-- depends_on: {{ ref('agg_shop_daily') }} {{ ref('agg_creator_daily') }} {{ ref('agg_product_daily') }}
-- depends_on: {{ ref('agg_shop_buyer_daily') }} {{ ref('agg_creator_buyer_daily') }}
-- depends_on: {{ ref('agg_product_buyer_daily') }} {{ ref('agg_distribution_daily') }}
-- depends_on: {{ ref('int_orders__stale') }}
-- One row per order and event_date on which any of its window contributions changes: the change (delta)
-- of every additive measure (int_order_contributions__changed, models/core/README.md). Incremental:
-- takes the new rows of the ds's changed orders (delete+insert on order_id) AFTER the daily aggregates
-- have compared them with the rows here, so a run that stops half-way is redone in full by its rerun.
{#- Taking the new rows without the aggregates would leave them stale for good (they would find no
    difference afterwards): refuse to be built without them. -#}
{%- if execute and is_incremental() -%}
    {%- for agg in ['agg_shop_daily', 'agg_creator_daily', 'agg_product_daily', 'agg_shop_buyer_daily',
                    'agg_creator_buyer_daily', 'agg_product_buyer_daily', 'agg_distribution_daily'] -%}
        {%- if 'model.trust_dw.' ~ agg not in selected_resources -%}
            {{ exceptions.raise_compiler_error(
                'fct_order_contributions must be built together with ' ~ agg
                ~ ' (select the whole core layer, e.g. --selector warehouse)') }}
        {%- endif -%}
    {%- endfor -%}
{%- endif %}
with

changed as (

    select
        order_id,
        shop_id,
        product_id,
        creator_id,
        buyer_id,
        is_distribution,
        paid_date,
        event_date,
        {{ order_measure_names() | join(',\n        ') }}

    from {{ ref('int_order_contributions__changed') }}

)

select * from changed
