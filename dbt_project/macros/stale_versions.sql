{#-
    Keys whose current row in an incremental fact came from the ds's raw partition but is no longer in
    it: the partition was delivered again (ingest replaces it) without that row or with other values.
    The fact recomputes them from their remaining raw rows; has_rows = false: none is left, the fact's
    pre-hook removes them. Empty on a normal day, on a first build and on a full refresh. Reads the fact
    by name: it must run before the fact.
    current_columns / delivered_columns: the same values, named as in the fact / in staging, in order.
-#}
{% macro stale_versions(fact_identifier, staging_model, key_columns, current_columns, delivered_columns,
                        current_ds_column) %}
{%- set current = adapter.get_relation(database=this.database, schema=this.schema, identifier=fact_identifier) %}
-- depends_on: {{ ref(staging_model) }}
with

{% if current is not none and not flags.FULL_REFRESH -%}
delivered as (

    select
        {{ delivered_columns | join(',\n        ') }}
    from {{ ref(staging_model) }}
    where _ds = {{ ds() }}

),

current_from_partition as (

    select
        {{ current_columns | join(',\n        ') }}
    from {{ current }}
    where {{ current_ds_column }} = {{ ds() }}

),

stale as (

    select distinct {{ key_columns | join(', ') }}
    from (select * from current_from_partition except select * from delivered) as vanished

),

with_rows as (

    select distinct {{ key_columns | join(', ') }}
    from {{ ref(staging_model) }}
    where ({{ key_columns | join(', ') }}) in (select {{ key_columns | join(', ') }} from stale)

),

final as (

    select
        {% for k in key_columns %}stale.{{ k }},
        {% endfor -%}
        with_rows.{{ key_columns[0] }} is not null as has_rows
    from stale
    left join with_rows
        on {% for k in key_columns %}stale.{{ k }} = with_rows.{{ k }}{{ ' and ' if not loop.last }}{% endfor %}

)
{%- else -%}
final as (

    select
        {% for k in key_columns %}cast(null as {{ 'date' if k == 'metric_date' else 'varchar' }}) as {{ k }},
        {% endfor -%}
        cast(null as boolean) as has_rows
    where 1 = 0

)
{%- endif %}

select * from final
{% endmacro %}
