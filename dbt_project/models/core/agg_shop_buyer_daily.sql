-- Cohort orders per shop, buyer, paid_date and event_date: distinct and repeat buyers of a window are
-- the buyers whose Σ cohort_orders (paid_date in W, event_date <= ds) is >= 1 and >= 2.
{{ order_aggregate(
    key_exprs=[('shop_id', 'shop_id'), ('buyer_id', 'buyer_id')],
    measures=['cohort_orders'],
    where='cohort_orders != 0',
) }}
