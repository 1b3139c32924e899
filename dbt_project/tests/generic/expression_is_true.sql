{#- Rows where `expression` is not true fail (dbt_utils.expression_is_true without the hub). -#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not (
    {%- if column_name %} {{ column_name }} {% endif %} {{ expression }}
)

{% endtest %}
