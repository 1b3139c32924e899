{#- The business calendar (DESIGN §2): ds is a date in the business time zone (Asia/Shanghai);
    ds_end = ds + 1 day 00:00 in that zone. A timestamp counts "as of ds" iff its business date <= ds. -#}

{% macro business_date(ts) -%}
    cast((({{ ts }}) at time zone '{{ var("business_tz") }}') as date)
{%- endmacro %}

{#- The run's business date 'YYYY-MM-DD', read when dbt executes a node, not when it parses the project:
    the runner (trust_dw.dbt_runner) sets TRUST_DW_DS, and the SQL dbt parses does not depend on it, so
    partial parsing survives a new ds (a changed --vars re-parses the whole project, ~3 s at every run).
    `--vars '{ds: D}'` still works and wins (dbt by hand, Cosmos watcher mode, unit-test overrides).
    While parsing (execute is false) no node runs, so a fixed placeholder stands in. -#}
{% macro ds_string() -%}
    {%- set from_vars = var('ds', none) -%}
    {%- if from_vars is not none -%}
        {%- set value = from_vars | string -%}
    {%- elif not execute -%}
        {%- set value = '1970-01-01' -%}
    {%- else -%}
        {%- set value = env_var('TRUST_DW_DS', '') -%}
    {%- endif -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value) -%}
        {{ exceptions.raise_compiler_error(
            "the business date ds is not set (got '" ~ value ~ "'): set TRUST_DW_DS=YYYY-MM-DD "
            ~ "or pass --vars '{ds: YYYY-MM-DD}' (trust-dw run --ds does it for you)") }}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}

{#- The run's business date as a DATE literal. -#}
{% macro ds() -%}
    cast('{{ ds_string() }}' as date)
{%- endmacro %}

{#- A filter written in YAML (a data test's `where`, unique_where_written's `written`) with `{ds}` for
    the run's business date: YAML configs are rendered when dbt parses the project, so they cannot call
    ds() themselves; the placeholder is replaced when the test runs (get_where_subquery below). -#}
{% macro render_ds_placeholder(sql) -%}
    {{- return(sql | replace('{ds}', ds())) -}}
{%- endmacro %}

{#- ds shifted by n days (n may be negative), as a DATE. -#}
{% macro ds_plus(n) -%}
    cast({{ dbt.dateadd('day', n, ds()) }} as date)
{%- endmacro %}

{#- The first business date of the window of `days` days ending on ds (W30 -> ds-29). -#}
{% macro window_start(days) -%}
    {{ ds_plus(1 - days) }}
{%- endmacro %}

{#- Rows of a daily aggregate (paid_date, event_date) that make up a window sum "as of ds": paid_date in
    the `days` business dates ending `offset` days before ds (W30: days=30; PREV30: days=30, offset=30)
    and event_date <= ds (models/core/README.md). -#}
{% macro in_window_as_of_ds(days, offset=0, paid_date='paid_date', event_date='event_date') -%}
    {{ paid_date }} between {{ ds_plus(1 - days - offset) }} and {{ ds_plus(-offset) }}
    and {{ event_date }} <= {{ ds() }}
{%- endmacro %}
