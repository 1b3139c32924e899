-- The creator master as delivered for the ds being run; shop_id is set on a shop's own account.
with

source as (

    select * from {{ source('raw', 'creators') }}
    where _ds = {{ ds() }}

),

renamed as (

    select
        creator_id,
        nickname,
        fans,
        shop_id,
        created_at,
        status,
        _ds

    from source

)

select * from renamed
