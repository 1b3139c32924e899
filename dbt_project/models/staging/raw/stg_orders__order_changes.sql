-- One row per CDC change row of an order, every landed partition. Models that merge changes filter
-- on _ds (fct_orders reads only the partition of the ds being run).
with

source as (

    select * from {{ source('raw', 'orders') }}

),

renamed as (

    select
        order_id,
        updated_at,
        shop_id,
        product_id,
        creator_id,
        buyer_id,
        channel,
        is_fan_order,
        quantity,
        unit_price,
        pay_amount,
        paid_at,
        cancelled_at,
        shipped_at,
        collected_at,
        delivered_at,
        refund_requested_at,
        refund_type,
        refund_reason,
        refund_completed_at,
        dispute_opened_at,
        reviewed_at,
        review_rating,
        {{ business_date('paid_at') }} as paid_date,
        _ds,
        _source_file,
        _source_line

    from source

)

select * from renamed
