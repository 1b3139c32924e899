-- The service-provider master as delivered for the ds being run.
with

source as (

    select * from {{ source('raw', 'providers') }}
    where _ds = {{ ds() }}

),

renamed as (

    select
        provider_id,
        provider_name,
        provider_type,
        capabilities,
        admitted_at,
        status,
        updated_at,
        _ds

    from source

)

select * from renamed
