-- Orders whose current version in fct_orders came from the ds's raw partition but is no longer in it
-- (a re-delivered partition): recomputed from their remaining raw rows, or removed (has_rows = false).
{{ stale_versions('fct_orders', 'stg_orders__order_changes', ['order_id'],
    current_columns=[
        'order_id', 'updated_at', 'shop_id', 'product_id', 'creator_id', 'buyer_id', 'channel',
        'is_fan_order', 'quantity', 'unit_price', 'pay_amount', 'paid_at', 'cancelled_at', 'shipped_at',
        'collected_at', 'delivered_at', 'refund_requested_at', 'refund_type', 'refund_reason',
        'refund_completed_at', 'dispute_opened_at', 'reviewed_at', 'review_rating', 'last_change_file',
        'last_change_line'],
    delivered_columns=[
        'order_id', 'updated_at', 'shop_id', 'product_id', 'creator_id', 'buyer_id', 'channel',
        'is_fan_order', 'quantity', 'unit_price', 'pay_amount', 'paid_at', 'cancelled_at', 'shipped_at',
        'collected_at', 'delivered_at', 'refund_requested_at', 'refund_type', 'refund_reason',
        'refund_completed_at', 'dispute_opened_at', 'reviewed_at', 'review_rating', '_source_file',
        '_source_line'],
    current_ds_column='last_change_ds') }}
