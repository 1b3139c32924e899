-- Shops a provider serves on ds (DESIGN §5.5): link rows as delivered on ds whose service period covers
-- ds (start_date <= ds and (end_date is null or end_date >= ds)). Grain: ds x provider_id x shop_id.
with

links as (

    select
        provider_id,
        shop_id,
        start_date,
        end_date

    from {{ ref('dim_provider_shop_links') }}
    where valid_from <= {{ ds() }}
      and (valid_to is null or valid_to > {{ ds() }})

),

final as (

    select distinct
        {{ ds() }} as ds,
        provider_id,
        shop_id

    from links
    where start_date <= {{ ds() }}
      and (end_date is null or end_date >= {{ ds() }})

)

select * from final
