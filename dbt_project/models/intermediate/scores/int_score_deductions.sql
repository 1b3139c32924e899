{#-
    Deduction points before the cap (DESIGN §5.1, §5.5), one row per (ds, score_name, subject_id) with at
    least one counted ruling in the score's deduction window (ds-(window-1) … ds, from score_deduction_policies).
    - shop / creator: points per ruling against the subject itself, by violation type;
    - provider: points per ruling against a shop it serves on ds (only the types listed for `provider`).
    Caps are applied in the marts (score_deduction_policies.deduction_cap).
-#}

with

violations as (

    select violation_id, subject_type, subject_id, violation_type, ruled_date
    from {{ ref('fct_violations') }}

),

violation_points as (

    select score_name, violation_type, cast(points as double) as points
    from {{ ref('score_violation_points') }}

),

policies as (

    select score_name, deduction_window_days
    from {{ ref('score_deduction_policies') }}

),

served_shops as (

    select distinct provider_id, shop_id
    from {{ ref('int_provider_served_shops') }}
    where ds = {{ ds() }}

),

counted_rulings as (

    select
        violation_points.score_name,
        violations.subject_id,
        violations.violation_id,
        violation_points.points
    from violations
    inner join violation_points
        on violations.violation_type = violation_points.violation_type
        -- the shop and creator scores deduct rulings against a subject of the same name
        and violations.subject_type = violation_points.score_name
    inner join policies
        on violation_points.score_name = policies.score_name
    where {{ dbt.datediff('violations.ruled_date', ds(), 'day') }}
        between 0 and policies.deduction_window_days - 1

    union all

    select
        violation_points.score_name,
        served_shops.provider_id as subject_id,
        violations.violation_id,
        violation_points.points
    from violations
    inner join served_shops
        on violations.subject_id = served_shops.shop_id
    inner join violation_points
        on violations.violation_type = violation_points.violation_type
    inner join policies
        on violation_points.score_name = policies.score_name
    where violations.subject_type = 'shop'
        and violation_points.score_name = 'provider'
        and {{ dbt.datediff('violations.ruled_date', ds(), 'day') }}
            between 0 and policies.deduction_window_days - 1

),

final as (

    select
        {{ ds() }} as ds,
        score_name,
        subject_id,
        count(*) as rulings,
        sum(points) as deduction_points
    from counted_rulings
    group by score_name, subject_id

)

select * from final
