-- The product master as it was on ds, with the unknown member '-1' (shop '-1', category 'unknown').
{{ dimension_as_of_ds('dim_products',
    ['product_id', 'shop_id', 'category', 'brand_id', 'title', 'list_price', 'commission_rate', 'created_at',
     'status']) }}
