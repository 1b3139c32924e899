-- The contribution rows that change with this run: rows of the ds's changed orders that are in
-- fct_order_contributions (before it takes the new rows) but not in int_order_contributions__changed
-- (version 'old'), or the other way round ('new'). Rows an order keeps unchanged are not here. The
-- daily aggregates re-sum exactly the cells of these rows. On a first build or a full refresh every
-- row is new. Reads fct_order_contributions by name: it must run before that model.
-- A keyed diff: (order_id, event_date) is unique on both sides (one row per order and event date), so
-- the rows are matched on it and compared whole, once (a set EXCEPT each way hashed all 26 columns
-- twice).
{%- set previous = order_contributions_relation() %}
{%- set columns = ['order_id', 'shop_id', 'product_id', 'creator_id', 'buyer_id', 'is_distribution',
                   'paid_date', 'event_date'] + order_measure_names() %}
-- depends_on: {{ ref('fct_orders') }} {{ ref('int_orders__stale') }}
with

new_rows as (

    select
        {{ columns | join(',\n        ') }}
    from {{ ref('int_order_contributions__changed') }}

),

{% if previous is not none -%}
old_rows as (

    select
        {{ columns | join(',\n        ') }}
    from {{ previous }}
    where order_id in ({{ changed_order_ids() }})

),

pairs as (

    select
        new_rows as new_row,
        old_rows as old_row
    from new_rows
    full outer join old_rows
        on new_rows.order_id = old_rows.order_id
        and new_rows.event_date = old_rows.event_date
    where new_rows.order_id is null
        or old_rows.order_id is null
        or ({{ prefixed_columns(columns[1:], 'new_rows') }})
            is distinct from ({{ prefixed_columns(columns[1:], 'old_rows') }})

),

differing as (

    select 'new' as version, unnest(new_row) from pairs where new_row.order_id is not null
    union all
    select 'old' as version, unnest(old_row) from pairs where old_row.order_id is not null

)
{%- else -%}
differing as (

    select 'new' as version, * from new_rows

)
{%- endif %}

select * from differing
