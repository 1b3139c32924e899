-- Provider-to-shop service links as delivered for the ds being run.
with

source as (

    select * from {{ source('raw', 'provider_shop_links') }}
    where _ds = {{ ds() }}

),

renamed as (

    select
        provider_id,
        shop_id,
        start_date,
        end_date,
        _ds

    from source

)

select * from renamed
