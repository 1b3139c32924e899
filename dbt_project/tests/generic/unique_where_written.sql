{#- No value of `column_name` among the rows matching `written` (what this run wrote) appears twice in
    the whole model: catches a duplicate of an old row without grouping the history. -#}
{% test unique_where_written(model, column_name, written) %}

select
    {{ column_name }},
    count(*) as n_rows
from {{ model }}
where {{ column_name }} in (select {{ column_name }} from {{ model }} where {{ render_ds_placeholder(written) }})
group by {{ column_name }}
having count(*) > 1

{% endtest %}
