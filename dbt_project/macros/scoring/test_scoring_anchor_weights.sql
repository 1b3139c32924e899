{#-
    Generic test for the anchors seed (score_indicator_anchors): within each score, a dimension has one
    dimension weight, its indicator weights sum to 1, and the dimension weights sum to 1. A row per failure.
-#}
{% test scoring_anchor_weights(model) %}

with

anchors as (

    select score_name, dimension, dimension_weight, indicator_weight from {{ model }}

),

dimensions as (

    select
        score_name,
        dimension,
        count(distinct dimension_weight) as dimension_weights,
        max(dimension_weight) as dimension_weight,
        sum(indicator_weight) as indicator_weight_sum
    from anchors
    group by score_name, dimension

),

scores as (

    select score_name, sum(dimension_weight) as dimension_weight_sum
    from dimensions
    group by score_name

)

select score_name, dimension, 'dimension weight differs between its indicators' as failure
from dimensions where dimension_weights <> 1
union all
select score_name, dimension, 'indicator weights do not sum to 1' as failure
from dimensions where abs(indicator_weight_sum - 1) > 1e-9
union all
select score_name, null as dimension, 'dimension weights do not sum to 1' as failure
from scores where abs(dimension_weight_sum - 1) > 1e-9

{% endtest %}
