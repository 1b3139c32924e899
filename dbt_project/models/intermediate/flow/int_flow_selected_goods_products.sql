{#-
    精选好物 selected goods (DESIGN §6), one row per tiered product of ds: eligible when selected goods
    (tier L5); weight = product score × GMV(W30) = weight_numerator (weight_denominator 1).
-#}

with

products as (

    select product_id, tier, is_selected_goods, product_score, gmv
    from {{ ref('product_tiers_daily') }}
    where ds = {{ ds() }}

),

weighted as (

    select
        product_id,
        tier,
        is_selected_goods,
        cast(product_score as decimal(5, 2)) as product_score,
        cast(gmv as decimal(38, 2)) as gmv_w30,
        cast(product_score as decimal(5, 2)) * cast(gmv as decimal(38, 2)) as weight_numerator
    from products

),

final as (

    select
        {{ ds() }} as ds,
        'selected_goods' as pool_id,
        'product' as recipient_type,
        product_id as recipient_id,
        tier,
        is_selected_goods,
        product_score,
        gmv_w30,
        case
            when not coalesce(is_selected_goods, false) then 'not_selected_goods'
            when coalesce(weight_numerator, 0) <= 0 then 'zero_weight'
        end as ineligible_reason,
        weight_numerator,
        1 as weight_denominator
    from weighted

)

select * from final
