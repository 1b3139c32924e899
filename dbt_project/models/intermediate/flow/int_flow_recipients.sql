{#-
    The eligible recipients of every pool part for ds (DESIGN §6): one row per
    (ds, pool_id, recipient_type, recipient_id) with its exact weight = weight_numerator / weight_denominator.
    Recipients with weight 0 are not eligible (ineligible_reason 'zero_weight': they could only get 0).
-#}

with

candidates as (

    {% for candidates in [
        'int_flow_chuanliu_shops',
        'int_flow_chuanliu_creators',
        'int_flow_cold_start_shops',
        'int_flow_selected_goods_products',
    ] %}
    select ds, pool_id, recipient_type, recipient_id, ineligible_reason, weight_numerator, weight_denominator
    from {{ ref(candidates) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        ds,
        pool_id,
        recipient_type,
        recipient_id,
        cast(weight_numerator as decimal(38, 6)) as weight_numerator,
        cast(weight_denominator as integer) as weight_denominator
    from candidates
    where ineligible_reason is null

)

select * from final
