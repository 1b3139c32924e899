-- Service-provider master, SCD2 (one row per provider version) + unknown member '-1'.
{{ scd2_dimension('snap_providers',
    ['provider_id', 'provider_name', 'provider_type', 'capabilities', 'admitted_at', 'status', 'updated_at'],
    unknown_member={
        'provider_id': "'-1'", 'provider_name': "'unknown'", 'provider_type': "'unknown'",
        'capabilities': 'cast(null as varchar)', 'admitted_at': 'cast(null as date)', 'status': "'unknown'",
        'updated_at': 'cast(null as timestamptz)',
    }) }}
