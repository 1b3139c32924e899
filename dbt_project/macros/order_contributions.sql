{#-
    The additive measures of an order, evaluated "as of" a business date e (DESIGN §2, §5, §6).

    Every measure is the order's contribution to a window sum as of ds = e: zero unless the order is in
    the cohort as of e (paid, and not cancelled-before-shipment as of e), times the part of the order the
    measure counts once its outcome timestamp has a business date <= e. core.fct_order_contributions
    stores, per order and per date where any measure changes (event_date), the change (delta); so the
    value as of ds = Σ deltas with event_date <= ds. See models/core/README.md.

    kind: count -> BIGINT, money -> DECIMAL(18,2).
-#}
{% macro order_measures() %}
    {%- do return([
        {'name': 'cohort_orders', 'kind': 'count', 'expr': '1'},
        {'name': 'gmv', 'kind': 'money', 'expr': 'pay_amount'},
        {'name': 'quantity', 'kind': 'count', 'expr': 'quantity'},
        {'name': 'delivered_orders', 'kind': 'count',
         'expr': 'case when delivered_date <= {e} then 1 else 0 end'},
        {'name': 'delivery_seconds_sum', 'kind': 'count',
         'expr': 'case when delivered_date <= {e} then delivery_seconds else 0 end'},
        {'name': 'quality_refund_orders', 'kind': 'count',
         'expr': 'case when is_quality_refund and refund_requested_date <= {e} then 1 else 0 end'},
        {'name': 'reviews', 'kind': 'count',
         'expr': 'case when reviewed_date <= {e} then 1 else 0 end'},
        {'name': 'negative_reviews', 'kind': 'count',
         'expr': 'case when is_negative_review and reviewed_date <= {e} then 1 else 0 end'},
        {'name': 'collect_due_orders', 'kind': 'count',
         'expr': 'case when collect_due_date <= {e} then 1 else 0 end'},
        {'name': 'collected_48h_orders', 'kind': 'count',
         'expr': 'case when is_collected_in_window and collect_due_date <= {e} then 1 else 0 end'},
        {'name': 'refunds_completed', 'kind': 'count',
         'expr': 'case when refund_completed_date <= {e} then 1 else 0 end'},
        {'name': 'refunds_within_sla', 'kind': 'count',
         'expr': 'case when is_refund_within_sla and refund_completed_date <= {e} then 1 else 0 end'},
        {'name': 'dispute_orders', 'kind': 'count',
         'expr': 'case when dispute_opened_date <= {e} then 1 else 0 end'},
        {'name': 'gmv_live_self', 'kind': 'money',
         'expr': "case when channel = 'live_self' then pay_amount else 0 end"},
        {'name': 'gmv_distribution', 'kind': 'money',
         'expr': 'case when is_distribution then pay_amount else 0 end'},
        {'name': 'gmv_shelf', 'kind': 'money',
         'expr': "case when channel = 'shelf' then pay_amount else 0 end"},
        {'name': 'gmv_fan', 'kind': 'money',
         'expr': 'case when is_fan_order then pay_amount else 0 end'},
        {'name': 'distribution_orders', 'kind': 'count',
         'expr': 'case when is_distribution then 1 else 0 end'},
    ]) -%}
{% endmacro %}

{% macro measure_type(kind) -%}
    {%- if kind == 'money' -%} decimal(18, 2) {%- else -%} bigint {%- endif -%}
{%- endmacro %}

{#- The names of the measures, optionally restricted to `only`. -#}
{% macro order_measure_names(only=none) -%}
    {%- set names = [] -%}
    {%- for m in order_measures() if only is none or m.name in only -%}
        {%- do names.append(m.name) -%}
    {%- endfor -%}
    {%- do return(names) -%}
{%- endmacro %}

{#- `cast(sum(x) as <type>) as x` for the listed measures (sums of BIGINT/DECIMAL widen otherwise). -#}
{% macro sum_measures(names, relation_alias=none) -%}
    {%- set prefix = relation_alias ~ '.' if relation_alias else '' -%}
    {%- for m in order_measures() if m.name in names %}
        cast(sum({{ prefix }}{{ m.name }}) as {{ measure_type(m.kind) }}) as {{ m.name }}
        {%- if not loop.last %},{% endif %}
    {%- endfor -%}
{%- endmacro %}

{#- The orders whose state this ds's run changed in fct_orders: those whose winning CDC row comes from
    the ds's partition (an order whose current version beat a late older row is not among them: its
    state did not change), plus the orders recomputed or removed because a re-delivered partition lost
    their current version (int_orders__stale). Zone maps make this a read of the last rows written. -#}
{% macro changed_order_ids() -%}
    select order_id
    from {{ ref('fct_orders') }}
    where last_change_ds = {{ ds() }}
    union
    select order_id
    from {{ ref('int_orders__stale') }}
{%- endmacro %}

{#- core.fct_order_contributions as it stands before this run's changes, or none on a first build or
    a full refresh (then int_order_contributions__changed holds every order). Read by name, not ref():
    the aggregates must read it before fct_order_contributions takes the new rows. -#}
{% macro order_contributions_relation() -%}
    {%- if not execute or flags.FULL_REFRESH -%}{%- do return(none) -%}{%- endif -%}
    {%- do return(adapter.get_relation(database=this.database, schema=this.schema,
                                       identifier='fct_order_contributions')) -%}
{%- endmacro %}

{% macro order_contributions_exist() -%}
    {%- do return(order_contributions_relation() is not none) -%}
{%- endmacro %}

{#-
    An incremental daily aggregate of the order contributions at grain keys + (paid_date, event_date).

    int_order_contributions__diff holds the contribution rows of the ds's changed orders that differ
    between before (fct_order_contributions, which takes the new rows only after the aggregates) and
    after the run (int_order_contributions__changed): version 'old' (no longer true) and 'new'. The cells
    of those rows are the only cells whose sums change. fct_order_contributions then deletes exactly the
    'old' rows ((order_id, event_date) is unique) and appends the 'new' ones, so after the run a cell
    holds its rows before, minus the old, plus the new: each touched cell is re-summed from
    fct_order_contributions' rows in it as they stand, the old rows counted negative and the new rows
    positive, and replaced (delete+insert on the cell; a cell left empty is written as zeros). A day's
    changes mostly add rows dated that day, so the touched cells are mostly (entity, paid_date, ds) and
    the rows read are those of the last days. If a run stops half-way, fct_order_contributions still
    holds the previous rows and the rerun finds the same differences and the same sums. A first build (or
    a full refresh) sums every order (the diff then holds every row, as 'new').
    key_exprs: list of (column name, expression over the contribution rows), never NULL.
-#}
{% macro order_aggregate(key_exprs, measures, where='1 = 1') %}
{%- set keys = [] -%}
{%- for k in key_exprs -%}{%- do keys.append(k[0]) -%}{%- endfor -%}
{%- set grain = keys + ['paid_date', 'event_date'] -%}
{%- set previous = order_contributions_relation() -%}
{%- set key_columns -%}
        {% for k in key_exprs %}{{ k[1] }} as {{ k[0] }},
        {% endfor -%}
        paid_date,
        event_date
{%- endset -%}
with

diff_rows as (

    select
        {{ key_columns }},
        {% for m in measures -%}
        case when version = 'old' then -{{ m }} else {{ m }} end as {{ m }}
        {{- ',' if not loop.last }}
        {% endfor %}
    from {{ ref('int_order_contributions__diff') }}
    where {{ where }}

),

{% if previous is not none -%}
previous_rows as (

    select
        {{ key_columns }},
        {{ measures | join(',\n        ') }}
    from {{ previous }}
    where {{ where }}

),
{%- endif %}

{% if is_incremental() -%}
touched_cells as (

    select distinct {{ grain | join(', ') }}
    from diff_rows

),
{%- endif %}

rows_in_cells as (

    {% if previous is not none -%}
    {% if is_incremental() -%}
    select previous_rows.*
    from previous_rows
    semi join touched_cells
        on {% for g in grain %}previous_rows.{{ g }} = touched_cells.{{ g }}
        {%- if not loop.last %}
        and {% endif %}{% endfor %}
    {%- else -%}
    select * from previous_rows
    {%- endif %}

    union all

    {% endif -%}
    select * from diff_rows

),

aggregated as (

    select
        {{ grain | join(',\n        ') }},
        {{ sum_measures(measures) }}
    from rows_in_cells
    group by {{ grain | join(', ') }}

)

select * from aggregated
{% endmacro %}

{#- `alias.a, alias.b, …` for a list of column names. -#}
{% macro prefixed_columns(names, alias) -%}
    {%- for n in names -%}{{ alias }}.{{ n }}{{ ',\n        ' if not loop.last }}{%- endfor -%}
{%- endmacro %}
