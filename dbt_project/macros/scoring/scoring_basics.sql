{#-
    Small helpers shared by every score model (DESIGN §5).
-#}

{#-
    Round half away from zero to `scale` decimals (DESIGN §5: "rounded to 2 decimals at the end").
    DuckDB's round() on a DOUBLE works on the binary value (round(1.005::double, 2) = 1.0, because
    1.005 is stored as 1.00499999…), so the value is first cast to DECIMAL(38, 9) — which rounds away
    the float noise of the weighted sums — and then rounded as a DECIMAL, which rounds half away from
    zero (round(-0.125::decimal(9,3), 2) = -0.13). Proven by the unit test
    `shop_scores_round_half_away_from_zero`.
-#}
{% macro round_half_away_from_zero(expression, scale=2) -%}
    round(cast(({{ expression }}) as decimal(38, 9)), {{ scale }})
{%- endmacro %}


{#-
    The published score: the weighted sum minus the capped deductions, clamped to [0, 100], then rounded.
    No evidence at all (base_score NULL) gives NULL whatever the deductions.
-#}
{% macro final_score(base_score, deduction_points, deduction_cap) -%}
    {#- greatest/least skip NULLs: the NULL test must come first -#}
    case when {{ base_score }} is not null then
        {{ round_half_away_from_zero(
            'greatest(0, least(100, ' ~ base_score ~ ' - least(coalesce(' ~ deduction_points ~ ', 0), coalesce('
            ~ deduction_cap ~ ', 0))))'
        ) }}
    end
{%- endmacro %}


{#- Displayed stars (DESIGN §5.1): round(base + span × score / 100, 2), read off the rounded score. -#}
{% macro score_stars(score, stars_base, stars_span) -%}
    {{ round_half_away_from_zero(stars_base ~ ' + ' ~ stars_span ~ ' * ' ~ score ~ ' / 100') }}
{%- endmacro %}


{#- A published 0–100 score column: rounded half away from zero, DECIMAL(5, 2). -#}
{% macro as_score(expression) -%}
    cast({{ round_half_away_from_zero(expression) }} as decimal(5, 2))
{%- endmacro %}


{#- A share/rate with a zero-denominator guard, as DOUBLE. -#}
{% macro safe_ratio(numerator, denominator) -%}
    case when {{ denominator }} <> 0 then cast({{ numerator }} as double) / cast({{ denominator }} as double) end
{%- endmacro %}
