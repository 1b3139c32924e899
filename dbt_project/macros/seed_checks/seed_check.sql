{#-
    Config-fault checks of the seeds (docs/guarantees.md, "Config faults").

    `seed_check(violations)` is the body of a singular test in tests/seeds/. `violations` is a query
    returning one row per fault with three text columns:
      seed     the seed's name (its file is looked up in the graph: seeds/<folder>/<seed>.csv),
      seed_row the row, named by its key columns ("score_name=shop, indicator=dispute_rate"),
      problem  what is wrong, in words.
    When it finds a fault, the test ERRORS with a message listing every fault by file and row, so the
    message dbt reports (and trust_dw.dbt_runner.DbtError carries) names the seed row — a plain failing
    test would only say "Got 1 result". The test refs only seeds, so `dbt build` runs it right after they
    load and skips every model downstream of a seed that failed: nothing is scored with a broken constant.
-#}
{% macro seed_check(violations) %}
    {%- if execute -%}
        {%- set found = run_query(violations) -%}
        {%- if found.rows | length > 0 -%}
            {%- set files = {} -%}
            {%- for node in graph.nodes.values() if node.resource_type == 'seed' -%}
                {%- do files.update({node.name: node.original_file_path}) -%}
            {%- endfor -%}
            {%- set lines = [] -%}
            {%- for row in found.rows -%}
                {%- do lines.append(
                    '  ' ~ files.get(row['seed'], row['seed']) ~ ': ' ~ row['seed_row'] ~ ': ' ~ row['problem']
                ) -%}
            {%- endfor -%}
            {{ exceptions.raise_compiler_error(
                'invalid seed row(s), fix the seed file(s) and rerun:\n' ~ lines | join('\n')
            ) }}
        {%- endif -%}
    {%- endif %}
select * from ({{ violations }}) as violations
{% endmacro %}


{#- The indicators a score must have an anchor row for: the published contract of the score's mart names
    every indicator twice, its raw value `<indicator>` and its score `<indicator>_score` (DESIGN §7). -#}
{% macro contract_indicators(model_name) %}
    {%- set indicators = [] -%}
    {%- for node in (graph.get('nodes') or {}).values() if node.resource_type == 'model' and node.name == model_name -%}
        {%- set columns = node.columns.keys() | list -%}
        {%- for column in columns if column ~ '_score' in columns -%}
            {%- do indicators.append(column) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(indicators) }}
{% endmacro %}


{#- A number as text in a message (portable cast). -#}
{% macro seed_text(expression) -%}
    coalesce(cast({{ expression }} as {{ dbt.type_string() }}), 'NULL')
{%- endmacro %}
