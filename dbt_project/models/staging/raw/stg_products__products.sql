-- The product master as delivered for the ds being run.
with

source as (

    select * from {{ source('raw', 'products') }}
    where _ds = {{ ds() }}

),

renamed as (

    select
        product_id,
        shop_id,
        category,
        brand_id,
        title,
        list_price,
        commission_rate,
        created_at,
        status,
        _ds

    from source

)

select * from renamed
