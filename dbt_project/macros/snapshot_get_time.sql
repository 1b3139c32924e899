{#- Snapshots are stamped with the business date being run, not the wall clock, so that rebuilding a ds
    writes the same validity dates (valid_from / valid_to of an invalidated or hard-deleted row = ds). -#}
{% macro duckdb__snapshot_get_time() -%}
    cast('{{ ds_string() }}' as timestamp)
{%- endmacro %}
