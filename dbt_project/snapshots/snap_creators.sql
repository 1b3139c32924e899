{% snapshot snap_creators %}
{{ config(unique_key='creator_id', strategy='check', check_cols='all', hard_deletes='invalidate') }}
{{ snapshot_partition('stg_creators__creators', [
    'creator_id', 'nickname', 'fans', 'shop_id', 'created_at', 'status',
]) }}
{% endsnapshot %}
