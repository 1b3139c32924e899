{% snapshot snap_provider_shop_links %}
{{ config(
    unique_key=['provider_id', 'shop_id', 'start_date'],
    strategy='check',
    check_cols='all',
    hard_deletes='invalidate',
) }}
{{ snapshot_partition('stg_provider_shop_links__links', ['provider_id', 'shop_id', 'start_date', 'end_date']) }}
{% endsnapshot %}
