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

-- Every date on which a measure of the order can change; dates before paid_date act on paid_date.
event_dates as (

    {% set date_columns = ['paid_date', 'cancelled_date', 'shipped_date', 'collect_due_date',
                           'delivered_date', 'refund_requested_date', 'refund_completed_date',
                           'dispute_opened_date', 'reviewed_date'] -%}
    {% for c in date_columns -%}
    select order_id, greatest(paid_date, {{ c }}) as event_date
    from order_facts
    where {{ c }} is not null
    {% if not loop.last %}union
    {% endif %}
    {%- endfor %}

),

states as (

    select
        event_dates.event_date,
        -- DESIGN §2: out of the cohort as of e if cancelled <= e and not shipped <= e.
        case
            when order_facts.cancelled_date <= event_dates.event_date
                and not coalesce(order_facts.shipped_date <= event_dates.event_date, false)
                then 0
            else 1
        end as in_cohort,
        order_facts.*

    from event_dates
    inner join order_facts
        on event_dates.order_id = order_facts.order_id

),

values_as_of as (

    select
        order_id,
        event_date,
        {% for m in order_measures() -%}
        cast(in_cohort * ({{ m.expr.replace('{e}', 'event_date') }}) as {{ measure_type(m.kind) }})
            as {{ m.name }}{{ ',' if not loop.last }}
        {% endfor %}

    from states

),

deltas as (

    select
        order_id,
        event_date,
        {% for m in order_measures() -%}
        cast(
            {{ m.name }} - coalesce(lag({{ m.name }}) over (partition by order_id order by event_date), 0)
            as {{ measure_type(m.kind) }}
        ) as {{ m.name }}{{ ',' if not loop.last }}
        {% endfor %}

    from values_as_of

),

final as (

    select
        deltas.order_id,
        orders.shop_id,
        orders.product_id,
        orders.creator_id,
        orders.buyer_id,
        orders.is_distribution,
        orders.paid_date,
        deltas.event_date,
        {% for m in order_measures() -%}
        deltas.{{ m.name }}{{ ',' if not loop.last }}
        {% endfor %}

    from deltas
    inner join orders
        on deltas.order_id = orders.order_id
    where deltas.event_date = orders.paid_date
        {% for m in order_measures() -%}
        or deltas.{{ m.name }} != 0
        {% endfor %}

)

select * from final
