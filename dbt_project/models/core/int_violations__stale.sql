-- Rulings whose current version in fct_violations came from the ds's raw partition but is no longer in
-- it (a re-delivered partition): recomputed from the other partitions, or removed.
{{ stale_versions('fct_violations', 'stg_violations__violations', ['violation_id'],
    current_columns=[
        'violation_id', 'ruled_at', 'ruled_date', 'subject_type', 'subject_id', 'violation_type',
        'description', 'delivered_file', 'delivered_line'],
    delivered_columns=[
        'violation_id', 'ruled_at', 'ruled_date', 'subject_type', 'subject_id', 'violation_type',
        'description', '_source_file', '_source_line'],
    current_ds_column='delivered_ds') }}
