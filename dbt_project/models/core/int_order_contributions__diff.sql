-- The contribution rows that change with this run: rows of the ds's changed orders that are in
-- fct_order_contributions (before it takes the new rows) but not in int_order_contributions__changed
-- (version 'old'), or the other way round ('new'). Rows an order keeps unchanged are not here. The
-- daily aggregates re-sum exactly the cells of these rows. On a first build or a full refresh every
-- row is new. Reads fct_order_contributions by name: it must run before that model.
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

differing as (

    select 'new' as version, * from (select * from new_rows except select * from old_rows) as added
    union all
    select 'old' as version, * from (select * from old_rows except select * from new_rows) as removed

)
{%- else -%}
differing as (

    select 'new' as version, * from new_rows

)
{%- endif %}

select * from differing
