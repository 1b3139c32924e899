-- Provider-to-shop links, SCD2 (one row per link version); a bridge, so no unknown member.
{{ scd2_dimension('snap_provider_shop_links', ['provider_id', 'shop_id', 'start_date', 'end_date']) }}
