-- depends_on: {{ ref('stg_orders__order_changes') }}
-- The rows of core.fct_order_contributions of the orders changed in the ds's raw partition, as they
-- stood BEFORE this run replaced them (empty on a first build). The daily aggregates recompute the
-- cells these rows were in, so a contribution that moved (or vanished) leaves no stale sum behind.
-- It reads the table by name, not ref(), because it must run before fct_order_contributions.
{%- set previous = adapter.get_relation(
    database=this.database, schema=this.schema, identifier='fct_order_contributions') %}
with

{% if previous is not none and not flags.FULL_REFRESH -%}
previous_rows as (

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

    from {{ previous }}
    where order_id in ({{ changed_order_ids() }})

)
{%- else -%}
previous_rows as (

    select
        cast(null as varchar) as order_id,
        cast(null as varchar) as shop_id,
        cast(null as varchar) as product_id,
        cast(null as varchar) as creator_id,
        cast(null as varchar) as buyer_id,
        cast(null as boolean) as is_distribution,
        cast(null as date) as paid_date,
        cast(null as date) as event_date,
        {% for m in order_measures() -%}
        cast(null as {{ measure_type(m.kind) }}) as {{ m.name }}{{ ',' if not loop.last }}
        {% endfor %}
    where 1 = 0

)
{%- endif %}

select * from previous_rows
