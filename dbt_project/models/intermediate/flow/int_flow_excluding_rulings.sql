{#-
    Who is excluded from a pool part by a ruling (DESIGN §6): one row per (pool_id, recipient_type,
    recipient_id) with a ruling of an excluding type (seed flow_excluding_rulings) whose business date is
    in the seed's window ending on ds (window_days 28 = W28: ds − 27 … ds).
-#}

with

excluding as (

    select pool_id, recipient_type, violation_type, window_days from {{ ref('flow_excluding_rulings') }}

),

violations as (

    select subject_type, subject_id, violation_type, ruled_date from {{ ref('fct_violations') }}

),

final as (

    select distinct
        {{ ds() }} as ds,
        excluding.pool_id,
        excluding.recipient_type,
        violations.subject_id as recipient_id
    from violations
    inner join excluding
        on violations.violation_type = excluding.violation_type
        and violations.subject_type = excluding.recipient_type
    where {{ dbt.datediff('violations.ruled_date', ds(), 'day') }} between 0 and excluding.window_days - 1

)

select * from final
