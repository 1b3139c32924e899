-- Cohort orders per creator (order creator_id), buyer, paid_date and event_date (repeat buyers via a creator).
{{ order_aggregate(
    key_exprs=[('creator_id', 'creator_id'), ('buyer_id', 'buyer_id')],
    measures=['cohort_orders'],
    where='creator_id is not null and cohort_orders != 0',
) }}
