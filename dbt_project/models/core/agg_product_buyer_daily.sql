-- Cohort orders per product, buyer, paid_date and event_date (repurchase rate of a product).
{{ order_aggregate(
    key_exprs=[('product_id', 'product_id'), ('buyer_id', 'buyer_id')],
    measures=['cohort_orders'],
    where='cohort_orders != 0',
) }}
