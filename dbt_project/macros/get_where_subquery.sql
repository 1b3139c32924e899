{#- dbt's get_where_subquery (the `where` config of data tests), with the `{ds}` placeholder replaced by
    the run's business date (render_ds_placeholder in business_calendar.sql). -#}
{% macro duckdb__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ render_ds_placeholder(where) }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
