{% snapshot snap_providers %}
{{ config(unique_key='provider_id', strategy='check', check_cols='all', hard_deletes='invalidate') }}
{{ snapshot_partition('stg_providers__providers', [
    'provider_id', 'provider_name', 'provider_type', 'capabilities', 'admitted_at', 'status', 'updated_at',
]) }}
{% endsnapshot %}
