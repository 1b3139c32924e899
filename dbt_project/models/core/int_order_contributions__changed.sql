-- depends_on: {{ ref('int_orders__stale') }}
-- The contributions of the orders this ds's run rewrote in fct_orders (every order on a first build or a
-- full refresh), as they are after this run: one row per order and event_date on which any window
-- measure of the order changes, holding the change (delta) of every additive measure of
-- macros/order_contributions.sql. An order's value "as of ds" = Σ its deltas with event_date <= ds; a
-- window sum as of ds adds the orders with paid_date in the window (models/core/README.md).
-- Every order keeps its paid_date row (zeros when it never entered the cohort), so replacing an order's
-- rows always removes its previous ones. The daily aggregates compare these rows with the order's
-- previous rows in fct_order_contributions (int_order_contributions__diff), then fct_order_contributions
-- takes them.
with

{%- set order_columns %}
        order_id,
        shop_id,
        product_id,
        creator_id,
        buyer_id,
        channel,
        is_fan_order,
        is_distribution,
        quantity,
        pay_amount,
        paid_at,
        shipped_at,
        collected_at,
        refund_requested_at,
        refund_completed_at,
        refund_type,
        refund_reason,
        review_rating,
        delivery_seconds,
        paid_date,
        cancelled_date,
        shipped_date,
        delivered_date,
        refund_requested_date,
        refund_completed_date,
        dispute_opened_date,
        reviewed_date

{%- endset %}
orders as (

    select
        {{- order_columns }}

    from {{ ref('fct_orders') }}
    {% if order_contributions_exist() -%}
    where last_change_ds = {{ ds() }}

    union all

    select
        {{- order_columns }}

    from {{ ref('fct_orders') }}
    where last_change_ds <> {{ ds() }}
      and order_id in (select stale.order_id from {{ ref('int_orders__stale') }} as stale)
    {%- endif %}

),

rules as (

    select
        collect_window_hours,
        negative_review_max_rating,
        quality_refund_reason

    from {{ ref('order_rules') }}

),

refund_sla as (

    select
        refund_type,
        shipped_at_request,
        sla_hours

    from {{ ref('refund_sla') }}

),

order_facts as (

    select
        orders.*,
        {{ business_date(dbt.dateadd('hour', 'rules.collect_window_hours', 'orders.paid_at')) }}
            as collect_due_date,
        coalesce(
            orders.collected_at <= {{ dbt.dateadd('hour', 'rules.collect_window_hours', 'orders.paid_at') }},
            false
        ) as is_collected_in_window,
        coalesce(orders.refund_reason = rules.quality_refund_reason, false) as is_quality_refund,
        coalesce(orders.review_rating <= rules.negative_review_max_rating, false) as is_negative_review,
        coalesce(
            orders.refund_completed_at
            <= {{ dbt.dateadd('hour', 'refund_sla.sla_hours', 'orders.refund_requested_at') }},
            false
        ) as is_refund_within_sla

    from orders
    cross join rules
    left join refund_sla
        on orders.refund_type = refund_sla.refund_type
        and coalesce(orders.shipped_at <= orders.refund_requested_at, false) = refund_sla.shipped_at_request

),

-- Every date on which a measure of the order can change (dates before paid_date act on paid_date), in
-- order, each with the order's previous such date: a measure's delta on a date is its value there minus
-- its value on the previous date. Row-wise (lists per order, no window over order_id): the value on the
-- previous date is evaluated directly.
{% set date_columns = ['paid_date', 'cancelled_date', 'shipped_date', 'collect_due_date',
                       'delivered_date', 'refund_requested_date', 'refund_completed_date',
                       'dispute_opened_date', 'reviewed_date'] -%}
order_event_dates as (

    select
        order_facts.*,
        list_sort(list_distinct([
            {% for c in date_columns -%}
            case when {{ c }} is not null then greatest(paid_date, {{ c }}) end{{ ',' if not loop.last }}
            {% endfor -%}
        ])) as event_dates

    from order_facts

),

states as (

    select
        unnest(event_dates) as event_date,
        unnest(list_prepend(cast(null as date), list_slice(event_dates, 1, len(event_dates) - 1)))
            as previous_event_date,
        order_event_dates.* exclude (event_dates)

    from order_event_dates

),

{#- DESIGN §2: out of the cohort as of e if cancelled <= e and not shipped <= e. -#}
{%- set in_cohort = 'case when cancelled_date <= {e} and not coalesce(shipped_date <= {e}, false) then 0 else 1 end' %}

deltas as (

    select
        order_id,
        shop_id,
        product_id,
        creator_id,
        buyer_id,
        is_distribution,
        paid_date,
        event_date,
        {% for m in order_measures() -%}
        cast(
            cast({{ in_cohort.replace('{e}', 'event_date') }} * ({{ m.expr.replace('{e}', 'event_date') }})
                as {{ measure_type(m.kind) }})
            - case
                when previous_event_date is null then 0
                else cast({{ in_cohort.replace('{e}', 'previous_event_date') }}
                    * ({{ m.expr.replace('{e}', 'previous_event_date') }}) as {{ measure_type(m.kind) }})
            end
            as {{ measure_type(m.kind) }}
        ) as {{ m.name }}{{ ',' if not loop.last }}
        {% endfor %}

    from states

),

final as (

    select * from deltas
    where event_date = paid_date
        {% for m in order_measures() -%}
        or {{ m.name }} != 0
        {% endfor %}

)

select * from final
