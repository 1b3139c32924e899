{#- The business calendar (DESIGN §2): ds is a date in the business time zone (Asia/Shanghai);
    ds_end = ds + 1 day 00:00 in that zone. A timestamp counts "as of ds" iff its business date <= ds. -#}

{% macro business_date(ts) -%}
    cast((({{ ts }}) at time zone '{{ var("business_tz") }}') as date)
{%- endmacro %}

{#- The run's business date as a DATE literal. -#}
{% macro ds() -%}
    cast('{{ var("ds") }}' as date)
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
