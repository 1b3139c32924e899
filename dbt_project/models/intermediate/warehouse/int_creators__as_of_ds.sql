-- The creator master as it was on ds, with the unknown member '-1'.
{{ dimension_as_of_ds('dim_creators', ['creator_id', 'nickname', 'fans', 'shop_id', 'created_at', 'status']) }}
