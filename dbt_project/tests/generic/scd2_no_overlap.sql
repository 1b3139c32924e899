{#- No two versions of the same key are valid on the same date (SCD2 intervals [valid_from, valid_to)). -#}
{% test scd2_no_overlap(model, key, valid_from='valid_from', valid_to='valid_to') %}

select a.{{ key }}, a.{{ valid_from }}, b.{{ valid_from }} as overlapping_valid_from
from {{ model }} as a
inner join {{ model }} as b
    on a.{{ key }} = b.{{ key }}
    and a.{{ valid_from }} < b.{{ valid_from }}
    and (a.{{ valid_to }} is null or a.{{ valid_to }} > b.{{ valid_from }})

{% endtest %}
