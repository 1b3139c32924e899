-- Content rows whose current version in fct_content_daily came from the ds's raw partition but is no
-- longer in it (a re-delivered partition): recomputed from the other partitions, or removed.
{{ stale_versions('fct_content_daily', 'stg_content_metrics__content_daily', ['metric_date', 'content_id'],
    current_columns=[
        'metric_date', 'content_id', 'content_type', 'creator_id', 'impressions', 'opens', 'plays',
        'completions', 'likes', 'comments', 'shares', 'interactions', 'watch_seconds', 'live_minutes',
        'attributed_orders', 'attributed_gmv', 'delivered_file', 'delivered_line'],
    delivered_columns=[
        'metric_date', 'content_id', 'content_type', 'creator_id', 'impressions', 'opens', 'plays',
        'completions', 'likes', 'comments', 'shares', 'interactions', 'watch_seconds', 'live_minutes',
        'attributed_orders', 'attributed_gmv', '_source_file', '_source_line'],
    current_ds_column='delivered_ds') }}
