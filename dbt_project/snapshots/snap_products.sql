{% snapshot snap_products %}
{{ config(unique_key='product_id', strategy='check', check_cols='all', hard_deletes='invalidate') }}
{{ snapshot_partition('stg_products__products', [
    'product_id', 'shop_id', 'category', 'brand_id', 'title', 'list_price', 'commission_rate', 'created_at',
    'status',
]) }}
{% endsnapshot %}
