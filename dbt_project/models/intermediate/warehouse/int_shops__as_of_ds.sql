-- The shop master as it was on ds (the version valid on ds), with the unknown member '-1'.
{{ dimension_as_of_ds('dim_shops',
    ['shop_id', 'shop_name', 'category', 'brand_id', 'brand_level', 'opened_at', 'fans_at_open', 'fans', 'status']) }}
