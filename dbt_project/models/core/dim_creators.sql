-- Creator master, SCD2 (one row per creator version) + unknown member '-1'.
{{ scd2_dimension('snap_creators',
    ['creator_id', 'nickname', 'fans', 'shop_id', 'created_at', 'status'],
    unknown_member={
        'creator_id': "'-1'", 'nickname': "'unknown'", 'fans': 'cast(null as integer)',
        'shop_id': 'cast(null as varchar)', 'created_at': 'cast(null as timestamptz)', 'status': "'unknown'",
    }) }}
