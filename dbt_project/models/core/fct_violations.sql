-- depends_on: {{ ref('int_violations__stale') }}
-- One row per ruling (DESIGN §3 violations, append-only). Incremental on violation_id from the raw
-- partition of the ds; a ruling delivered again keeps the row of the latest partition.
with

{%- set delivered_columns %}
        violation_id,
        ruled_at,
        ruled_date,
        subject_type,
        subject_id,
        violation_type,
        description,
        _ds as delivered_ds,
        _source_file as delivered_file,
        _source_line as delivered_line,
        1 as is_from_run_partition
{%- endset %}
delivered as (

    select
        {{- delivered_columns }}

    from {{ ref('stg_violations__violations') }}
    {% if is_incremental() -%}
    where _ds = {{ ds() }}

    union all

    -- the other partitions' rows of the keys whose current row the partition no longer delivers
    select
        {{- delivered_columns }}

    from {{ ref('stg_violations__violations') }}
    where _ds <> {{ ds() }}
      and (violation_id) in (select violation_id from {{ ref('int_violations__stale') }})
    {%- else -%}
    where _ds <= {{ ds() }}
    {%- endif %}

),

{% if is_incremental() -%}
current_rows as (

    select
        violation_id,
        ruled_at,
        ruled_date,
        subject_type,
        subject_id,
        violation_type,
        description,
        delivered_ds,
        delivered_file,
        delivered_line,
        0 as is_from_run_partition

    from {{ this }}
    where violation_id in (select delivered.violation_id from delivered)
      -- a stale current row is no candidate: it is no longer delivered
      and violation_id not in (select violation_id from {{ ref('int_violations__stale') }})

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
            partition by violation_id
            order by delivered_ds desc, is_from_run_partition desc, delivered_file desc, delivered_line desc
        ) as version_rank

    from candidates

),

final as (

    select
        violation_id,
        ruled_at,
        ruled_date,
        subject_type,
        subject_id,
        violation_type,
        description,
        delivered_ds,
        delivered_file,
        delivered_line

    from ranked
    where version_rank = 1

)

select * from final
