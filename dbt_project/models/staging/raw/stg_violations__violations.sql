-- One row per ruling, every landed partition; ruled_date is the business date of the ruling.
with

source as (

    select * from {{ source('raw', 'violations') }}

),

renamed as (

    select
        violation_id,
        ruled_at,
        {{ business_date('ruled_at') }} as ruled_date,
        subject_type,
        subject_id,
        violation_type,
        description,
        _ds,
        _source_file,
        _source_line

    from source

)

select * from renamed
