{% snapshot snap_shops %}
{{ config(unique_key='shop_id', strategy='check', check_cols='all', hard_deletes='invalidate') }}
{{ snapshot_partition('stg_shops__shops', [
    'shop_id', 'shop_name', 'category', 'brand_id', 'brand_level', 'opened_at', 'fans_at_open', 'fans', 'status',
]) }}
{% endsnapshot %}
