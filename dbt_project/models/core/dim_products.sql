-- Product master, SCD2 (one row per product version) + unknown member '-1' (of the unknown shop '-1').
{{ scd2_dimension('snap_products',
    ['product_id', 'shop_id', 'category', 'brand_id', 'title', 'list_price', 'commission_rate', 'created_at',
     'status'],
    unknown_member={
        'product_id': "'-1'", 'shop_id': "'-1'", 'category': "'unknown'", 'brand_id': 'cast(null as varchar)',
        'title': "'unknown'", 'list_price': 'cast(null as decimal(18, 2))',
        'commission_rate': 'cast(null as decimal(9, 4))', 'created_at': 'cast(null as timestamptz)',
        'status': "'unknown'",
    }) }}
