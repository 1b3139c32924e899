-- Config faults of seeds/scoring/score_indicator_anchors.csv (DESIGN §5.1): every indicator the published
-- contract of a score names has exactly one anchor row; weights are in (0, 1] and sum to 1 within each
-- dimension and over each score's dimensions; good <> bad; a known transform. See macros/seed_checks/.
{%- set score_marts = {
    'shop': 'shop_scores_daily',
    'creator': 'creator_scores_daily',
    'product': 'product_tiers_daily',
    'provider': 'provider_tiers_daily',
} -%}
{%- set expected = [] -%}
{%- for score_name, model_name in score_marts.items() -%}
    {%- for indicator in contract_indicators(model_name) -%}
        {%- do expected.append((score_name, indicator)) -%}
    {%- endfor -%}
{%- endfor -%}

{% set violations %}
with

anchors as (

    select
        score_name,
        dimension,
        dimension_weight,
        indicator,
        indicator_weight,
        good,
        bad,
        transform,
        'score_name=' || score_name || ', indicator=' || indicator as seed_row
    from {{ ref('score_indicator_anchors') }}

),

expected as (

    {% for score_name, indicator in expected -%}
    select '{{ score_name }}' as score_name, '{{ indicator }}' as indicator
    {% if not loop.last %}union all
    {% endif -%}
    {%- else -%}
    select cast(null as {{ dbt.type_string() }}) as score_name, cast(null as {{ dbt.type_string() }}) as indicator
    where 1 = 0
    {%- endfor %}

),

dimensions as (

    select
        score_name,
        dimension,
        count(distinct dimension_weight) as dimension_weights,
        max(dimension_weight) as dimension_weight,
        sum(indicator_weight) as indicator_weight_sum,
        {{ dbt.listagg("indicator || ' ' || " ~ seed_text('indicator_weight'), "', '", "order by indicator") }}
            as indicators
    from anchors
    group by score_name, dimension

),

scores as (

    select
        score_name,
        sum(dimension_weight) as dimension_weight_sum,
        {{ dbt.listagg("dimension || ' ' || " ~ seed_text('dimension_weight'), "', '", "order by dimension") }}
            as dimensions
    from dimensions
    group by score_name

),

row_faults as (

    select seed_row, 'unknown score_name (the scores are {{ score_marts.keys() | join(", ") }})' as problem
    from anchors
    where score_name not in ('{{ score_marts.keys() | join("', '") }}')

    union all

    select
        seed_row,
        'indicator ' || indicator || ' is not in the published contract of the '
        || score_name || ' score: no model computes it'
    from anchors
    where score_name in ('{{ score_marts.keys() | join("', '") }}')
        and not exists (
            select 1 from expected
            where expected.score_name = anchors.score_name and expected.indicator = anchors.indicator
        )

    union all

    select seed_row, 'transform ' || coalesce(transform, 'NULL') || ' is neither linear nor log10'
    from anchors
    where transform is null or transform not in ('linear', 'log10')

    union all

    select seed_row, 'good (' || {{ seed_text('good') }} || ') must differ from bad (' || {{ seed_text('bad') }} || ')'
    from anchors
    where good is null or bad is null or good = bad

    union all

    select seed_row, 'indicator_weight ' || {{ seed_text('indicator_weight') }} || ' is outside (0, 1]'
    from anchors
    where indicator_weight is null or indicator_weight <= 0 or indicator_weight > 1

    union all

    select seed_row, 'dimension_weight ' || {{ seed_text('dimension_weight') }} || ' is outside (0, 1]'
    from anchors
    where dimension_weight is null or dimension_weight <= 0 or dimension_weight > 1

    union all

    select min(seed_row), 'the row appears ' || cast(count(*) as {{ dbt.type_string() }}) || ' times'
    from anchors
    group by score_name, indicator
    having count(*) > 1

),

missing as (

    select
        'score_name=' || expected.score_name || ', indicator=' || expected.indicator as seed_row,
        'missing: the published contract of the ' || expected.score_name || ' score has '
        || expected.indicator || ' and ' || expected.indicator || '_score, the seed has no anchor row for it'
            as problem
    from expected
    left join anchors
        on expected.score_name = anchors.score_name and expected.indicator = anchors.indicator
    where anchors.indicator is null

),

weight_faults as (

    select
        'score_name=' || score_name || ', dimension=' || dimension || ' (' || indicators || ')' as seed_row,
        'indicator weights sum to ' || {{ seed_text('indicator_weight_sum') }} || ', not 1' as problem
    from dimensions
    where abs(indicator_weight_sum - 1) > 1e-9

    union all

    select
        'score_name=' || score_name || ', dimension=' || dimension || ' (' || indicators || ')',
        'the rows of one dimension carry different dimension_weight values'
    from dimensions
    where dimension_weights > 1

    union all

    select
        'score_name=' || score_name || ' (' || dimensions || ')',
        'dimension weights sum to ' || {{ seed_text('dimension_weight_sum') }} || ', not 1'
    from scores
    where abs(dimension_weight_sum - 1) > 1e-9

),

faults as (

    select seed_row, problem from row_faults
    union all
    select seed_row, problem from missing
    union all
    select seed_row, problem from weight_faults

)

select 'score_indicator_anchors' as seed, seed_row, problem
from faults
{% endset %}

{{ seed_check(violations) }}
