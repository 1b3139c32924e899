-- Distribution-channel cohort orders and GMV per distributing creator, shop, product, paid_date and
-- event_date: active distributors of a product, and a creator's distribution for a shop (flow, §6).
-- A distribution order without creator_id is kept under the unknown creator '-1'.
{{ order_aggregate(
    key_exprs=[
        ('creator_id', "coalesce(creator_id, '-1')"),
        ('shop_id', 'shop_id'),
        ('product_id', 'product_id'),
    ],
    measures=['distribution_orders', 'gmv_distribution'],
    where='is_distribution and distribution_orders != 0',
) }}
