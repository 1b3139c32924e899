-- The service-provider master as it was on ds, with the unknown member '-1'.
{{ dimension_as_of_ds('dim_providers',
    ['provider_id', 'provider_name', 'provider_type', 'capabilities', 'admitted_at', 'status', 'updated_at']) }}
