-- Additive window parts per creator (the order's creator_id), paid_date and event_date; orders without
-- a creator are in no creator's cohort. Incremental on the cells the ds touched.
{{ order_aggregate(
    key_exprs=[('creator_id', 'creator_id')],
    measures=order_measure_names(),
    where='creator_id is not null',
) }}
