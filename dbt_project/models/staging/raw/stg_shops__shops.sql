-- The shop master as delivered for the ds being run (one full snapshot per ds).
with

source as (

    select * from {{ source('raw', 'shops') }}
    where _ds = {{ ds() }}

),

renamed as (

    select
        shop_id,
        shop_name,
        category,
        brand_id,
        brand_level,
        opened_at,
        fans_at_open,
        fans,
        status,
        _ds

    from source

)

select * from renamed
