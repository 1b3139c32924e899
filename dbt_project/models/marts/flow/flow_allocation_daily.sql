{#-
    流量分配 (DESIGN §6, §7): the impressions of each pool allocated on ds for effective_ds = ds + 1, one row
    per (ds, pool_id, recipient_type, recipient_id), the pool's reserve row included. Every ds is kept
    (incremental, delete+insert on ds); the arithmetic happens in int_flow_allocation (exact, Python).
-#}

with

allocation as (

    select
        ds,
        effective_ds,
        pool_id,
        recipient_type,
        recipient_id,
        weight,
        impressions,
        share,
        rank,
        capped
    from {{ ref('int_flow_allocation') }}
    where ds = {{ ds() }}

),

final as (

    select
        cast(ds as date) as ds,
        cast(effective_ds as date) as effective_ds,
        cast(pool_id as varchar) as pool_id,
        cast(recipient_type as varchar) as recipient_type,
        cast(recipient_id as varchar) as recipient_id,
        cast(weight as decimal(38, 10)) as weight,
        cast(impressions as bigint) as impressions,
        cast(share as decimal(18, 12)) as share,
        cast(rank as integer) as rank,
        cast(capped as boolean) as capped
    from allocation

)

select * from final
