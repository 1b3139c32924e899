{#-
    Everything the service-provider score and tier need (DESIGN §5.5), one row per (ds, provider) for the
    providers with status `active` on ds. Served shops = links covering ds. GMV figures are the sums of
    the served shops' cohort GMV; served_quality is the GMV-weighted mean of the served shops'
    non-provisional experience scores of the same ds.
-#}

with

providers as (

    select provider_id, provider_type, capabilities, status
    from {{ ref('int_providers__as_of_ds') }}

),

served_shops as (

    select distinct provider_id, shop_id
    from {{ ref('int_provider_served_shops') }}
    where ds = {{ ds() }}

),

shop_window as (

    select shop_id, gmv from {{ ref('int_shop_window__w30') }}
    where ds = {{ ds() }}

),

shop_gmv_prev30 as (

    select shop_id, gmv_prev30 from {{ ref('int_shop_gmv__prev30') }}
    where ds = {{ ds() }}

),

shop_scores as (

    select shop_id, experience_score, score_status
    from {{ ref('shop_scores_daily') }}
    where ds = {{ ds() }}

),

capabilities as (

    select capability from {{ ref('provider_capabilities') }}

),

capability_coverage as (

    -- count the provider's `;`-separated capabilities that are known ones (portable: no string split)
    select
        providers.provider_id,
        count(capabilities.capability) as capability_count,
        (select count(*) from capabilities) as capability_total
    from providers
    left join capabilities
        on ';' || providers.capabilities || ';' like '%;' || capabilities.capability || ';%'
    group by providers.provider_id

),

served_figures as (

    select
        served_shops.provider_id,
        count(*) as served_shops,
        sum(coalesce(shop_window.gmv, 0)) as gmv_w30,
        sum(coalesce(shop_gmv_prev30.gmv_prev30, 0)) as gmv_prev30,
        -- exact decimal sums (gmv and scores are decimals): a double sum depends on the order the parallel
        -- aggregation adds the shops in, and the published served_quality would differ in its last bits
        -- between two runs of the same ds
        sum(
            case when shop_scores.score_status = 'scored' and shop_scores.experience_score is not null
                then shop_window.gmv * shop_scores.experience_score end
        ) as served_quality_weighted,
        sum(
            case when shop_scores.score_status = 'scored' and shop_scores.experience_score is not null
                then shop_window.gmv end
        ) as served_quality_gmv
    from served_shops
    left join shop_window
        on served_shops.shop_id = shop_window.shop_id
    left join shop_gmv_prev30
        on served_shops.shop_id = shop_gmv_prev30.shop_id
    left join shop_scores
        on served_shops.shop_id = shop_scores.shop_id
    group by served_shops.provider_id

),

final as (

    select
        {{ ds() }} as ds,
        providers.provider_id,
        providers.provider_type,
        coalesce(served_figures.served_shops, 0) as served_shops,
        cast(coalesce(served_figures.gmv_w30, 0) as decimal(18, 2)) as gmv_w30,
        cast(coalesce(served_figures.gmv_prev30, 0) as decimal(18, 2)) as gmv_prev30,
        -- annualised: W30 GMV × 365 / 30 (calendar arithmetic of the 30-day window)
        cast(
            {{ round_half_away_from_zero('cast(coalesce(served_figures.gmv_w30, 0) as double) * 365 / 30') }}
            as decimal(18, 2)
        ) as annualized_gmv,
        served_figures.served_quality_weighted,
        served_figures.served_quality_gmv,
        case when served_figures.served_quality_gmv > 0
            then cast(served_figures.served_quality_weighted as double)
                / cast(served_figures.served_quality_gmv as double)
        end as served_quality,
        capability_coverage.capability_count,
        capability_coverage.capability_total
    from providers
    left join served_figures
        on providers.provider_id = served_figures.provider_id
    left join capability_coverage
        on providers.provider_id = capability_coverage.provider_id
    where providers.status = 'active'

)

select * from final
