{#-
    THE indicator-scoring mechanism (DESIGN §5.1), shared by the shop, creator, product and provider scores.

    Input: a relation/CTE of indicator values in long format, one row per (ds, subject_id, indicator) with
    `numerator` and `denominator` (value = numerator / denominator; a denominator of 0 or NULL, or a NULL
    numerator, means "no evidence"). Direct values use denominator 1 (or 0 when unknown).

    The CTEs emitted here continue the caller's WITH list and end in `scored_indicators`, one row per
    (ds, subject_id, indicator) with:
      value, has_evidence, indicator_score (0–100, NULL without evidence),
      effective_indicator_weight (renormalised over the dimension's indicators with evidence),
      dimension_score, effective_dimension_weight (renormalised over dimensions with evidence),
      contribution (= effective_dimension_weight × effective_indicator_weight × indicator_score),
      base_score (Σ contributions, before deductions; NULL when nothing has evidence).
    Anchors, weights and transforms come from the seed `score_indicator_anchors` (no constant here).
-#}

{% macro indicator_rows(relation, subject_column, indicators) -%}
    {#- indicators: a list of (indicator, numerator expression, denominator expression). -#}
    {%- for name, numerator, denominator in indicators %}
    select
        ds,
        {{ subject_column }} as subject_id,
        '{{ name }}' as indicator,
        cast({{ numerator }} as double) as numerator,
        cast({{ denominator }} as double) as denominator
    from {{ relation }}
    {%- if not loop.last %}

    union all
    {% endif -%}
    {%- endfor %}
{%- endmacro %}


{% macro score_indicator_ctes(indicator_values, score_name) -%}
score_anchors as (

    select
        dimension,
        cast(dimension_weight as double) as dimension_weight,
        indicator,
        cast(indicator_weight as double) as indicator_weight,
        cast(good as double) as good,
        cast(bad as double) as bad,
        transform
    from {{ ref('score_indicator_anchors') }}
    where score_name = '{{ score_name }}'

),

indicator_evidence as (

    select
        indicator_values.ds,
        indicator_values.subject_id,
        score_anchors.dimension,
        score_anchors.dimension_weight,
        score_anchors.indicator,
        score_anchors.indicator_weight,
        score_anchors.good,
        score_anchors.bad,
        score_anchors.transform,
        indicator_values.numerator,
        indicator_values.denominator,
        coalesce(indicator_values.denominator <> 0 and indicator_values.numerator is not null, false)
            as has_evidence
    from {{ indicator_values }} as indicator_values
    inner join score_anchors
        on indicator_values.indicator = score_anchors.indicator

),

indicator_transformed as (

    select
        *,
        case when has_evidence then numerator / denominator end as value,
        case
            when not has_evidence then null
            when transform = 'log10' then log10(greatest(numerator / denominator, 1))
            else numerator / denominator
        end as transformed_value,
        case when transform = 'log10' then log10(greatest(good, 1)) else good end as transformed_good,
        case when transform = 'log10' then log10(greatest(bad, 1)) else bad end as transformed_bad
    from indicator_evidence

),

indicator_scored as (

    select
        *,
        -- greatest/least skip NULLs, so the evidence test must come first
        case when has_evidence then
            100 * greatest(0, least(1,
                (transformed_value - transformed_bad) / (transformed_good - transformed_bad)
            ))
        end as indicator_score
    from indicator_transformed

),

dimension_scored as (

    select
        ds,
        subject_id,
        dimension,
        max(dimension_weight) as dimension_weight,
        sum(case when has_evidence then indicator_weight end) as dimension_evidence_weight,
        sum(case when has_evidence then indicator_weight * indicator_score end)
        / sum(case when has_evidence then indicator_weight end) as dimension_score
    from indicator_scored
    group by ds, subject_id, dimension

),

subject_weights as (

    select
        ds,
        subject_id,
        sum(case when dimension_score is not null then dimension_weight end) as subject_evidence_weight
    from dimension_scored
    group by ds, subject_id

),

contributions as (

    select
        indicator_scored.*,
        dimension_scored.dimension_score,
        case when indicator_scored.has_evidence
            then indicator_scored.indicator_weight / dimension_scored.dimension_evidence_weight
        end as effective_indicator_weight,
        case when dimension_scored.dimension_score is not null
            then dimension_scored.dimension_weight / subject_weights.subject_evidence_weight
        end as effective_dimension_weight,
        dimension_scored.dimension_weight / subject_weights.subject_evidence_weight
        * indicator_scored.indicator_weight / dimension_scored.dimension_evidence_weight
        * indicator_scored.indicator_score as contribution
    from indicator_scored
    inner join dimension_scored
        on indicator_scored.ds = dimension_scored.ds
        and indicator_scored.subject_id = dimension_scored.subject_id
        and indicator_scored.dimension = dimension_scored.dimension
    inner join subject_weights
        on indicator_scored.ds = subject_weights.ds
        and indicator_scored.subject_id = subject_weights.subject_id

),

{#-
    Scores and weights leave the mechanism as DECIMAL(38, 9): fixed-point, so the float noise of the
    weighted sums (80.49999999999999) is gone before anything is compared or rounded to 2 decimals.
-#}
scored_indicators as (

    select
        ds,
        subject_id,
        dimension,
        dimension_weight,
        indicator,
        indicator_weight,
        good,
        bad,
        transform,
        numerator,
        denominator,
        value,
        has_evidence,
        cast(indicator_score as decimal(38, 9)) as indicator_score,
        cast(effective_indicator_weight as decimal(38, 9)) as effective_indicator_weight,
        cast(dimension_score as decimal(38, 9)) as dimension_score,
        cast(effective_dimension_weight as decimal(38, 9)) as effective_dimension_weight,
        cast(contribution as decimal(38, 9)) as contribution,
        cast(sum(contribution) over (partition by ds, subject_id) as decimal(38, 9)) as base_score
    from contributions

)
{%- endmacro %}


{#- Pivot helpers for the published marts: one column per indicator (raw value) plus `<indicator>_score`. -#}
{% macro pivot_indicator_values(indicators) -%}
    {%- for name in indicators %}
        max(case when indicator = '{{ name }}' then value end) as {{ name }},
        max(case when indicator = '{{ name }}' then indicator_score end) as {{ name }}_score,
    {%- endfor %}
{%- endmacro %}


{% macro pivot_dimension_scores(dimensions) -%}
    {#- dimensions: a mapping dimension name -> published column name. -#}
    {%- for name, column in dimensions.items() %}
        max(case when dimension = '{{ name }}' then dimension_score end) as {{ column }},
    {%- endfor %}
{%- endmacro %}
