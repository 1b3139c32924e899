-- depends_on: {{ ref('int_content_daily__stale') }}
-- One row per metric_date x content_id (DESIGN §3 content_metrics). Incremental: a run reads the raw
-- partition of its ds; if a (metric_date, content_id) is delivered again in another partition, the
-- row of the latest partition wins (the run's own partition on a rerun), whatever order ds are run in.
with

{%- set delivered_columns %}
        metric_date,
        content_id,
        content_type,
        creator_id,
        impressions,
        opens,
        plays,
        completions,
        likes,
        comments,
        shares,
        interactions,
        watch_seconds,
        live_minutes,
        attributed_orders,
        attributed_gmv,
        _ds as delivered_ds,
        _source_file as delivered_file,
        _source_line as delivered_line,
        1 as is_from_run_partition
{%- endset %}
delivered as (

    select
        {{- delivered_columns }}

    from {{ ref('stg_content_metrics__content_daily') }}
    {% if is_incremental() -%}
    where _ds = {{ ds() }}

    union all

    -- the other partitions' rows of the keys whose current row the partition no longer delivers
    select
        {{- delivered_columns }}

    from {{ ref('stg_content_metrics__content_daily') }}
    where _ds <> {{ ds() }}
      and (metric_date, content_id) in (select metric_date, content_id from {{ ref('int_content_daily__stale') }})
    {%- else -%}
    where _ds <= {{ ds() }}
    {%- endif %}

),

{% if is_incremental() -%}
current_rows as (

    select
        current_rows.metric_date,
        current_rows.content_id,
        current_rows.content_type,
        current_rows.creator_id,
        current_rows.impressions,
        current_rows.opens,
        current_rows.plays,
        current_rows.completions,
        current_rows.likes,
        current_rows.comments,
        current_rows.shares,
        current_rows.interactions,
        current_rows.watch_seconds,
        current_rows.live_minutes,
        current_rows.attributed_orders,
        current_rows.attributed_gmv,
        current_rows.delivered_ds,
        current_rows.delivered_file,
        current_rows.delivered_line,
        0 as is_from_run_partition

    from {{ this }} as current_rows
    inner join (select distinct metric_date, content_id from delivered) as keys
        on current_rows.metric_date = keys.metric_date
        and current_rows.content_id = keys.content_id
    -- a stale current row is no candidate: it is no longer delivered
    where (current_rows.metric_date, current_rows.content_id) not in (
        select metric_date, content_id from {{ ref('int_content_daily__stale') }}
    )

),
{%- endif %}

candidates as (

    select * from delivered
    {% if is_incremental() -%}
    union all
    select * from current_rows
    {%- endif %}

),

ranked as (

    select
        *,
        row_number() over (
            partition by metric_date, content_id
            order by delivered_ds desc, is_from_run_partition desc, delivered_file desc, delivered_line desc
        ) as version_rank

    from candidates

),

final as (

    select
        metric_date,
        content_id,
        content_type,
        creator_id,
        impressions,
        opens,
        plays,
        completions,
        likes,
        comments,
        shares,
        interactions,
        watch_seconds,
        live_minutes,
        attributed_orders,
        attributed_gmv,
        delivered_ds,
        delivered_file,
        delivered_line

    from ranked
    where version_rank = 1

)

select * from final
