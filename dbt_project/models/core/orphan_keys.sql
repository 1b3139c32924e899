-- Orphan keys of the ds (DESIGN §4): rows delivered in the ds's raw partitions whose foreign key has no
-- row valid on ds in its dimension. They are kept (windows map them to the unknown member '-1') and
-- counted here. Grain: ds x feed x key_column; every checked key has a row, 0 when clean.
-- Incremental: delete+insert on ds keeps one row set per ds run.
with

{% set checks = [
    ('orders', 'shop_id', 'stg_orders__order_changes', 'shop_id', 'dim_shops', 'shop_id', 'true'),
    ('orders', 'product_id', 'stg_orders__order_changes', 'product_id', 'dim_products', 'product_id', 'true'),
    ('orders', 'creator_id', 'stg_orders__order_changes', 'creator_id', 'dim_creators', 'creator_id', 'true'),
    ('content_metrics', 'creator_id', 'stg_content_metrics__content_daily', 'creator_id', 'dim_creators',
     'creator_id', 'true'),
    ('products', 'shop_id', 'stg_products__products', 'shop_id', 'dim_shops', 'shop_id', 'true'),
    ('creators', 'shop_id', 'stg_creators__creators', 'shop_id', 'dim_shops', 'shop_id', 'true'),
    ('provider_shop_links', 'provider_id', 'stg_provider_shop_links__links', 'provider_id', 'dim_providers',
     'provider_id', 'true'),
    ('provider_shop_links', 'shop_id', 'stg_provider_shop_links__links', 'shop_id', 'dim_shops', 'shop_id',
     'true'),
    ('violations', 'subject_id', 'stg_violations__violations', 'subject_id', 'dim_shops', 'shop_id',
     "subject_type = 'shop'"),
    ('violations', 'subject_id', 'stg_violations__violations', 'subject_id', 'dim_creators', 'creator_id',
     "subject_type = 'creator'"),
    ('violations', 'subject_id', 'stg_violations__violations', 'subject_id', 'dim_products', 'product_id',
     "subject_type = 'product'"),
] %}

{% for feed, key_column, staging, fk, dim, dim_key, condition in checks -%}
check_{{ loop.index }} as (

    select
        '{{ feed }}' as feed,
        '{{ key_column }}' as key_column,
        cast(count(*) as bigint) as rows_checked,
        cast(sum(case when known.{{ dim_key }} is null then 1 else 0 end) as bigint) as orphan_rows

    from {{ ref(staging) }} as delivered
    left join (
        select distinct {{ dim_key }}
        from {{ ref(dim) }}
        where valid_from <= {{ ds() }}
          and (valid_to is null or valid_to > {{ ds() }})
          and not is_unknown_member
    ) as known
        on delivered.{{ fk }} = known.{{ dim_key }}
    where delivered._ds = {{ ds() }}
      and delivered.{{ fk }} is not null
      and {{ condition }}

),

{% endfor -%}
unioned as (

    {% for c in checks -%}
    select * from check_{{ loop.index }}
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}

),

final as (

    select
        {{ ds() }} as ds,
        feed,
        key_column,
        cast(sum(orphan_rows) as bigint) as orphan_rows,
        cast(sum(rows_checked) as bigint) as rows_checked

    from unioned
    group by feed, key_column

)

select * from final
