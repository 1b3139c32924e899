-- depends_on: {{ ref('agg_shop_daily') }} {{ ref('agg_creator_daily') }} {{ ref('agg_product_daily') }}
-- depends_on: {{ ref('agg_shop_buyer_daily') }} {{ ref('agg_creator_buyer_daily') }}
-- depends_on: {{ ref('agg_product_buyer_daily') }} {{ ref('agg_distribution_daily') }}
-- One row per order and event_date on which any of its window contributions changes: the change (delta)
-- of every additive measure (int_order_contributions__changed, models/core/README.md). Incremental:
-- takes the ds's differences (int_order_contributions__diff) AFTER the daily aggregates have compared
-- them with the rows here, so a run that stops half-way is redone in full by its rerun: the pre-hook
-- deletes the rows that are no longer true (version 'old', matched on order_id and event_date), then
-- the rows that are new are appended (version 'new'). A changed order's rows that stay as they were
-- (a delivery changes one event date's row of the order, not the others) are neither deleted nor
-- written again; both statements run in the model's one transaction.
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

new_rows as (

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

    from {{ ref('int_order_contributions__diff') }}
    where version = 'new'

)

select * from new_rows
