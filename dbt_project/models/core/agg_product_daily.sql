-- Additive window parts per product, paid_date and event_date; per paid_date it also gives the
-- product's daily average unit price (gmv / quantity) for price_cv. Incremental on touched cells.
{{ order_aggregate(key_exprs=[('product_id', 'product_id')], measures=order_measure_names()) }}
