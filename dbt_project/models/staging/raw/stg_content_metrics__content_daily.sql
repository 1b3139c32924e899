-- One row per content item and metric date, every landed partition (fct_content_daily reads the
-- partition of the ds being run).
with

source as (

    select * from {{ source('raw', 'content_metrics') }}

),

renamed as (

    select
        metric_date,
        content_id,
        content_type,
        creator_id,
        impressions,
        opens,
        plays,
        completions,
        likes,
        comments,
        shares,
        likes + comments + shares as interactions,
        watch_seconds,
        live_minutes,
        attributed_orders,
        attributed_gmv,
        _ds,
        _source_file,
        _source_line

    from source

)

select * from renamed
