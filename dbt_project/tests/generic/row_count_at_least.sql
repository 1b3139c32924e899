{#- Fails when the model has fewer than `min_rows` rows (a master snapshot must never arrive empty:
    the SCD2 snapshot would read an empty partition as "every row deleted"). -#}
{% test row_count_at_least(model, min_rows=1) %}

select n_rows
from (select count(*) as n_rows from {{ model }}) as counted
where n_rows < {{ min_rows }}

{% endtest %}
