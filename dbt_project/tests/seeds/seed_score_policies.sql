-- Config faults of the other score seeds (DESIGN §5): deduction caps and points are not negative,
-- policies are in range, and the grade and tier bands start at 0 so every score gets one. See
-- macros/seed_checks/.
{% set violations %}
with

caps as (

    select 'score_deduction_policies' as seed, 'score_name=' || score_name as seed_row, problem
    from (
        select
            score_name,
            'deduction_cap ' || {{ seed_text('deduction_cap') }} || ' is negative or missing' as problem
        from {{ ref('score_deduction_policies') }}
        where deduction_cap is null or deduction_cap < 0
        union all
        select score_name, 'deduction_window_days ' || {{ seed_text('deduction_window_days') }} || ' is below 1'
        from {{ ref('score_deduction_policies') }}
        where deduction_window_days is null or deduction_window_days < 1
    ) as faults

),

points as (

    select
        'score_violation_points' as seed,
        'score_name=' || score_name || ', violation_type=' || violation_type as seed_row,
        'points ' || {{ seed_text('points') }} || ' is negative or missing' as problem
    from {{ ref('score_violation_points') }}
    where points is null or points < 0

),

policies as (

    select 'score_policies' as seed, 'score_name=' || score_name as seed_row, problem
    from (
        select score_name, 'provisional_min_orders ' || {{ seed_text('provisional_min_orders') }}
            || ' is negative or missing' as problem
        from {{ ref('score_policies') }}
        where provisional_min_orders is null or provisional_min_orders < 0
        union all
        select score_name, 'provisional_default_score ' || {{ seed_text('provisional_default_score') }}
            || ' is outside [0, 100]'
        from {{ ref('score_policies') }}
        where provisional_default_score is null or provisional_default_score < 0 or provisional_default_score > 100
    ) as faults

),

bands as (

    select 'shop_grades' as seed, 'grade=' || grade as seed_row, min_score
    from {{ ref('shop_grades') }}
    union all
    select 'product_tiers', 'tier=' || tier, min_score
    from {{ ref('product_tiers') }}

),

band_faults as (

    select seed, seed_row, 'min_score ' || {{ seed_text('min_score') }} || ' is outside [0, 100]' as problem
    from bands
    where min_score is null or min_score < 0 or min_score > 100
    union all
    select seed, 'the lowest band (' || min(seed_row) || ')', 'no band starts at 0: low scores would get none'
    from bands
    group by seed
    having min(min_score) <> 0

)

select seed, seed_row, problem from caps
union all
select seed, seed_row, problem from points
union all
select seed, seed_row, problem from policies
union all
select seed, seed_row, problem from band_faults
{% endset %}

{{ seed_check(violations) }}
