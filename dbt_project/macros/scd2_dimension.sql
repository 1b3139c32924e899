{#-
    A type-2 dimension over a snapshot: one row per version with valid_from / valid_to as business
    dates (valid on ds iff valid_from <= ds and (valid_to is null or ds < valid_to); NULL = current),
    plus, when `unknown_member` is given, the Kimball unknown member (key '-1', valid forever) that
    orphan keys map to. Zero-length versions (valid_to = valid_from) are dropped.
    unknown_member: {column: SQL literal} for every column.
-#}
{% macro scd2_dimension(snapshot_model, columns, unknown_member=none) %}
with

snapshot as (

    select * from {{ ref(snapshot_model) }}

),

versions as (

    select
        {% for c in columns -%}
        {{ c }},
        {% endfor -%}
        cast(dbt_valid_from as date) as valid_from,
        cast(dbt_valid_to as date) as valid_to,
        dbt_valid_to is null as is_current,
        false as is_unknown_member

    from snapshot
    where dbt_valid_to is null or dbt_valid_to > dbt_valid_from

)

{%- if unknown_member is not none %},

unknown_member as (

    select
        {% for c in columns -%}
        {{ unknown_member[c] }} as {{ c }},
        {% endfor -%}
        cast('1900-01-01' as date) as valid_from,
        cast(null as date) as valid_to,
        true as is_current,
        true as is_unknown_member

)

select * from versions
union all
select * from unknown_member
{%- else %}

select * from versions
{%- endif %}
{% endmacro %}

{#- The rows of a dimension valid on the ds being run, with ds first and without validity columns. -#}
{% macro dimension_as_of_ds(dimension_model, columns) %}
with

dimension as (

    select * from {{ ref(dimension_model) }}

),

final as (

    select
        {{ ds() }} as ds,
        {{ columns | join(',\n        ') }}

    from dimension
    where valid_from <= {{ ds() }}
      and (valid_to is null or valid_to > {{ ds() }})

)

select * from final
{% endmacro %}
