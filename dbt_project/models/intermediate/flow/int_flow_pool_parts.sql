{#- The pools' parts for the run's ds (one row per pool part): what int_flow_allocation splits. -#}

with

pools as (

    select pool_id, daily_impressions from {{ ref('flow_pools') }}

),

parts as (

    select pool_id, part_order, recipient_type, share, cap from {{ ref('flow_pool_parts') }}

),

final as (

    select
        {{ ds() }} as ds,
        parts.pool_id,
        pools.daily_impressions,
        parts.part_order,
        parts.recipient_type,
        parts.share,
        parts.cap
    from parts
    inner join pools
        on parts.pool_id = pools.pool_id

)

select * from final
