{#- `columns` are unique among the rows of the (paid_date, event_date) cells listed in `cells` (the cells
    a run rewrote, int_order_contributions__diff): the check of an incremental aggregate that costs what
    the run wrote, not the history. -#}
{% test unique_combination_in_cells(model, columns, cells) %}

select
    {{ columns | join(', ') }},
    count(*) as n_rows
from {{ model }} as written
where exists (
    select 1
    from {{ cells }} as cells
    where cells.paid_date = written.paid_date
      and cells.event_date = written.event_date
)
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
