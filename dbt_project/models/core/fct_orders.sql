-- One row per order: its latest state merged from the CDC change rows (DESIGN §3).
--
-- Incremental: a run reads only the raw partition of its ds (_ds = ds) plus the ranking columns of the
-- current versions of the orders it touches, and replaces the orders whose winner changed
-- (delete+insert on order_id). The winner of
-- an order is the row with the greatest updated_at; ties are broken deterministically by the later
-- landing partition, then the row of the partition being (re)loaded, then file and line. So exact
-- duplicates collapse, an older row landing late never overwrites a newer one, and the result does
-- not depend on the order in which ds are run. A first build (or --full-refresh) reads every
-- partition up to ds.
--
-- A partition delivered again (ingest replaces it) may lose rows: an order whose current version came
-- from it and is gone (int_orders__stale) is recomputed from all its remaining raw rows, or removed by
-- the pre-hook when none is left, so fct_orders is always the merge of the raw rows as they are.
-- depends_on: {{ ref('int_orders__stale') }}
with

{%- set change_columns -%}
        order_id,
        updated_at,
        shop_id,
        product_id,
        creator_id,
        buyer_id,
        channel,
        is_fan_order,
        quantity,
        unit_price,
        pay_amount,
        paid_at,
        cancelled_at,
        shipped_at,
        collected_at,
        delivered_at,
        refund_requested_at,
        refund_type,
        refund_reason,
        refund_completed_at,
        dispute_opened_at,
        reviewed_at,
        review_rating,
        _ds,
        _source_file,
        _source_line,
        1 as is_from_run_partition
{%- endset %}
changes as (

    select
        {{ change_columns }}

    from {{ ref('stg_orders__order_changes') }}
    {% if is_incremental() -%}
    where _ds = {{ ds() }}

    union all

    -- every remaining raw row of the orders whose current version the partition no longer delivers
    select
        {{ change_columns }}

    from {{ ref('stg_orders__order_changes') }}
    where _ds <> {{ ds() }}
      and order_id in (select stale.order_id from {{ ref('int_orders__stale') }} as stale)
    {%- else -%}
    where _ds <= {{ ds() }}
    {%- endif %}

),

{% if is_incremental() -%}
-- The current version of the orders the partition touches: only its ranking columns are read.
current_versions as (

    select
        order_id,
        updated_at,
        last_change_ds as _ds,
        0 as is_from_run_partition,
        last_change_file as _source_file,
        last_change_line as _source_line

    from {{ this }}
    where order_id in (select changes.order_id from changes)
      -- a stale current version is no candidate: it is no longer delivered
      and order_id not in (select stale.order_id from {{ ref('int_orders__stale') }} as stale)

),
{%- endif %}

candidates as (

    select order_id, updated_at, _ds, is_from_run_partition, _source_file, _source_line
    from changes
    {% if is_incremental() -%}
    union all
    select order_id, updated_at, _ds, is_from_run_partition, _source_file, _source_line
    from current_versions
    {%- endif %}

),

-- The winner of each order: the greatest (updated_at, _ds, is_from_run_partition, _source_file,
-- _source_line), compared left to right (a struct compares field by field; no field is null). One hash
-- aggregate on order_id, where a row_number() window partitioned and sorted every candidate.
winners as (

    select
        order_id,
        max({
            'updated_at': updated_at,
            '_ds': _ds,
            'is_from_run_partition': is_from_run_partition,
            '_source_file': _source_file,
            '_source_line': _source_line
        }) as winner

    from candidates
    group by order_id

),

-- The winning rows that come from the partition. An order whose current version still wins (an older
-- row landing late) is not returned, so delete+insert leaves it as it is.
latest as (

    select changes.*
    from changes
    inner join winners
        on changes.order_id = winners.order_id
        and changes._ds = winners.winner._ds
        and changes._source_file = winners.winner._source_file
        and changes._source_line = winners.winner._source_line
    where winners.winner.is_from_run_partition = 1

),

final as (

    select
        order_id,
        updated_at,
        shop_id,
        product_id,
        creator_id,
        buyer_id,
        channel,
        is_fan_order,
        quantity,
        unit_price,
        pay_amount,
        paid_at,
        cancelled_at,
        shipped_at,
        collected_at,
        delivered_at,
        refund_requested_at,
        refund_type,
        refund_reason,
        refund_completed_at,
        dispute_opened_at,
        reviewed_at,
        review_rating,
        {{ business_date('paid_at') }} as paid_date,
        {{ business_date('cancelled_at') }} as cancelled_date,
        {{ business_date('shipped_at') }} as shipped_date,
        {{ business_date('collected_at') }} as collected_date,
        {{ business_date('delivered_at') }} as delivered_date,
        {{ business_date('refund_requested_at') }} as refund_requested_date,
        {{ business_date('refund_completed_at') }} as refund_completed_date,
        {{ business_date('dispute_opened_at') }} as dispute_opened_date,
        {{ business_date('reviewed_at') }} as reviewed_date,
        channel in ('live_distribution', 'video_distribution') as is_distribution,
        -- DESIGN §2, in the latest known state: cancelled and never shipped.
        (cancelled_at is not null and shipped_at is null) as is_cancelled_before_shipment,
        cast({{ dbt.datediff('paid_at', 'delivered_at', 'second') }} as bigint) as delivery_seconds,
        _ds as last_change_ds,
        _source_file as last_change_file,
        _source_line as last_change_line

    from latest

)

select * from final
