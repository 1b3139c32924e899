-- Shop master, SCD2 (one row per shop version) + unknown member '-1'.
{{ scd2_dimension('snap_shops',
    ['shop_id', 'shop_name', 'category', 'brand_id', 'brand_level', 'opened_at', 'fans_at_open', 'fans', 'status'],
    unknown_member={
        'shop_id': "'-1'", 'shop_name': "'unknown'", 'category': "'unknown'",
        'brand_id': 'cast(null as varchar)', 'brand_level': "'unknown'", 'opened_at': 'cast(null as date)',
        'fans_at_open': 'cast(null as integer)', 'fans': 'cast(null as integer)', 'status': "'unknown'",
    }) }}
