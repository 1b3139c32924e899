-- Config faults of seeds/flow/ (DESIGN §6): every part and excluding ruling names a known pool; shares
-- and caps are in (0, 1] and a pool's shares sum to 1; budgets are positive. See macros/seed_checks/.
{% set violations %}
with

pools as (

    select pool_id, daily_impressions from {{ ref('flow_pools') }}

),

parts as (

    select
        pool_id,
        part_order,
        recipient_type,
        share,
        cap,
        'pool_id=' || pool_id || ', part_order=' || {{ seed_text('part_order') }} as seed_row
    from {{ ref('flow_pool_parts') }}

),

part_faults as (

    select seed_row, 'unknown pool ' || coalesce(pool_id, 'NULL') || ': not in flow_pools' as problem
    from parts
    where pool_id is null or pool_id not in (select pool_id from pools where pool_id is not null)
    union all
    select seed_row, 'cap ' || {{ seed_text('cap') }} || ' is outside (0, 1]'
    from parts
    where cap is null or cap <= 0 or cap > 1
    union all
    select seed_row, 'share ' || {{ seed_text('share') }} || ' is outside (0, 1]'
    from parts
    where share is null or share <= 0 or share > 1
    union all
    select seed_row, 'recipient_type ' || coalesce(recipient_type, 'NULL') || ' is not shop, creator or product'
    from parts
    where recipient_type is null or recipient_type not in ('shop', 'creator', 'product')
    union all
    select min(seed_row), 'part_order appears ' || cast(count(*) as {{ dbt.type_string() }}) || ' times'
    from parts
    group by pool_id, part_order
    having count(*) > 1
    union all
    select
        'pool_id=' || pool_id || ' (' || {{ dbt.listagg(seed_text('share'), "' + '", "order by part_order") }} || ')',
        'the shares of the pool sum to ' || {{ seed_text('sum(share)') }} || ', not 1'
    from parts
    group by pool_id
    having sum(share) <> 1

),

pool_faults as (

    select
        'pool_id=' || pool_id as seed_row,
        'daily_impressions ' || {{ seed_text('daily_impressions') }} || ' is not positive' as problem
    from pools
    where daily_impressions is null or daily_impressions <= 0
    union all
    select 'pool_id=' || pool_id, 'the pool has no row in flow_pool_parts'
    from pools
    where pool_id not in (select pool_id from parts where pool_id is not null)

),

ruling_faults as (

    select
        'pool_id=' || pool_id || ', recipient_type=' || recipient_type || ', violation_type=' || violation_type
            as seed_row,
        case
            when pool_id is null or pool_id not in (select pool_id from pools where pool_id is not null)
                then 'unknown pool ' || coalesce(pool_id, 'NULL') || ': not in flow_pools'
            else 'window_days ' || {{ seed_text('window_days') }} || ' is below 1'
        end as problem
    from {{ ref('flow_excluding_rulings') }}
    where pool_id is null
        or pool_id not in (select pool_id from pools where pool_id is not null)
        or window_days is null
        or window_days < 1

)

select 'flow_pool_parts' as seed, seed_row, problem from part_faults
union all
select 'flow_pools', seed_row, problem from pool_faults
union all
select 'flow_excluding_rulings', seed_row, problem from ruling_faults
{% endset %}

{{ seed_check(violations) }}
