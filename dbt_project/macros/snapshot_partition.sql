{#-
    The source rows of a master-data snapshot for the ds being run (snapshots/*.sql).

    Snapshots use the check strategy stamped with ds (macros/snapshot_get_time.sql), so a version is
    valid from the ds its values were first delivered until the ds they changed or disappeared. dbt
    snapshots can only append to the end of history, so a ds on or before the last recorded change
    (a rerun, or a backfill after newer days) must not write anything: for it the source is the
    snapshot's own current rows, which the check strategy sees as "nothing changed, nothing deleted".
    For such a ds the dimension already holds the versions valid on it (docs/warehouse.md).
-#}
{% macro snapshot_partition(staging_model, columns) %}
{%- set last_change = none -%}
{%- set existing = none -%}
{%- if execute -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- if existing is not none -%}
        {%- set query -%}
            select cast(max(coalesce(dbt_valid_to, dbt_valid_from)) as date) as last_change,
                   cast(max(dbt_valid_from) as date) as last_valid_from
            from {{ existing }}
        {%- endset -%}
        {%- set row = run_query(query).rows[0] -%}
        {%- set candidates = [row[0], row[1]] | reject('none') | list -%}
        {%- if candidates -%}{%- set last_change = candidates | max -%}{%- endif -%}
    {%- endif -%}
{%- endif -%}
{%- if last_change is not none and ds_string() <= last_change | string %}
    -- ds {{ ds_string() }} <= last recorded change {{ last_change }}: history is kept as it is.
    select {{ columns | join(', ') }}
    from {{ existing }}
    where dbt_valid_to is null
{%- else %}
    select {{ columns | join(', ') }}
    from {{ ref(staging_model) }}
{%- endif %}
{% endmacro %}
