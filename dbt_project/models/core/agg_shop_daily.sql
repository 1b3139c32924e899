-- Additive window parts per shop, paid_date and event_date (models/core/README.md): a shop's W sum as
-- of ds = Σ over paid_date in W and event_date <= ds. Incremental on the cells the ds touched.
{{ order_aggregate(key_exprs=[('shop_id', 'shop_id')], measures=order_measure_names()) }}
