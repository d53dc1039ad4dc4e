-- mart_lead_conversion: the top of the funnel, lead -> deal -> won, as of build_params.as_of.
-- Grain: dimension x dimension_value. dimension 'all' (dimension_value 'all': every lead),
--   'lead_source', 'owner' (the lead's owner) and 'created_month' (the month the lead was created,
--   'YYYY-MM'); a missing source or owner is '(none)'. Leads created after as_of are left out; no
--   leads, no rows.
-- A lead's deal: the deal named by the lead (converted_deal_id), else the earliest-created deal of
--   the same source naming the lead (deals.lead_id); the deal as it stood at as_of
--   (int_deals_as_of), so a deal created after as_of is no deal yet.
-- Converted by as_of: the lead's converted_at is at or before as_of; a lead without converted_at
--   counts as converted when its deal existed at as_of. converted_time = converted_at, else the
--   deal's created_at.
-- leads_created: leads created by as_of. leads_converted: of those, converted by as_of.
-- converted_deals_won, converted_won_amount_base: converted leads whose deal was won by as_of, and
--   those deals' amount_base.
-- lead_to_deal_rate = leads_converted / leads_created; lead_to_won_rate = converted_deals_won /
--   leads_created; deal_to_won_rate = converted_deals_won / leads_converted.
-- median_days_to_convert: median of converted_time - created_at in fractional days, over converted
--   leads with both times and converted_time >= created_at (a deal older than its lead, as when
--   it was won before the lead's first contact, is left out).
-- leads_open: not converted and at most lead_expiry_days old at as_of ([pipeline]
--   lead_expiry_days, default 90); leads_expired: not converted and older than that, counted as
--   lost. leads_created = leads_converted + leads_open + leads_expired.
-- Rates with an empty denominator are NULL.
-- Portable (DuckDB and Spark): the seconds between two times are a difference of
--   epoch(date_trunc('second', ...)), what DuckDB's date_diff('second', ...) counts (second
--   boundaries crossed); on Spark date_diff counts whole seconds elapsed and its / 86400.0 is a
--   DECIMAL rounded to 7 places.
with params as (
    select
        as_of,
        coalesce(lead_expiry_days, 90) as lead_expiry_days
    from build_params
),

known_leads as (
    select
        l.source,
        l.lead_id,
        l.created_at,
        l.converted_at,
        l.converted_deal_id,
        coalesce(l.lead_source, '(none)') as lead_source,
        coalesce(l.owner, '(none)') as lead_owner,
        substr(cast(l.created_at as varchar), 1, 7) as created_month
    from leads as l
    cross join params as p
    where l.created_at <= p.as_of
),

links as (
    select
        source,
        lead_id,
        converted_deal_id as deal_id,
        1 as link_rank,
        cast(null as timestamp) as deal_created_at
    from known_leads
    where converted_deal_id is not null
    union all
    select
        source,
        lead_id,
        deal_id,
        2 as link_rank,
        created_at as deal_created_at
    from deals
    where lead_id is not null
),

lead_deals as (
    select
        source,
        lead_id,
        deal_id
    from (
        select
            source,
            lead_id,
            deal_id,
            row_number() over (
                partition by source, lead_id
                order by link_rank, deal_created_at, deal_id
            ) as link_order
        from links
    ) as ranked
    where link_order = 1
),

lead_outcomes as (
    select
        l.lead_source,
        l.lead_owner,
        l.created_month,
        l.created_at,
        d.status as deal_status,
        d.amount_base as deal_amount_base,
        coalesce(l.converted_at, d.created_at) as converted_time,
        case
            when l.converted_at is not null then l.converted_at <= p.as_of
            else d.deal_id is not null
        end as converted,
        (epoch(date_trunc('second', p.as_of)) - epoch(date_trunc('second', l.created_at)))
        / 86400.0 > p.lead_expiry_days as expired_age
    from known_leads as l
    cross join params as p
    left join lead_deals as ld
        on l.source = ld.source and l.lead_id = ld.lead_id
    left join int_deals_as_of as d
        on ld.source = d.source and ld.deal_id = d.deal_id
),

lead_states as (
    select
        lead_source,
        lead_owner,
        created_month,
        converted,
        converted and deal_status = 'won' as converted_won,
        case when converted and deal_status = 'won' then deal_amount_base end as won_amount_base,
        not converted and not expired_age as still_open,
        not converted and expired_age as expired,
        case
            when converted and converted_time >= created_at
                then (
                    epoch(date_trunc('second', converted_time))
                    - epoch(date_trunc('second', created_at))
                ) / 86400.0
        end as days_to_convert
    from lead_outcomes
),

dimensions as (
    select 'all' as dimension
    union all
    select 'lead_source' as dimension
    union all
    select 'owner' as dimension
    union all
    select 'created_month' as dimension
),

-- Every lead once per dimension, under its value of that dimension.
by_dimension as (
    select
        d.dimension,
        s.converted,
        s.converted_won,
        s.won_amount_base,
        s.still_open,
        s.expired,
        s.days_to_convert,
        case d.dimension
            when 'all' then 'all'
            when 'lead_source' then s.lead_source
            when 'owner' then s.lead_owner
            else s.created_month
        end as dimension_value
    from lead_states as s
    cross join dimensions as d
),

counts as (
    select
        dimension,
        dimension_value,
        count(*) as leads_created,
        count(case when converted then 1 end) as leads_converted,
        count(case when converted_won then 1 end) as converted_deals_won,
        coalesce(sum(won_amount_base), 0) as converted_won_amount_base,
        count(case when still_open then 1 end) as leads_open,
        count(case when expired then 1 end) as leads_expired,
        percentile_cont(0.5) within group (order by days_to_convert) as median_days_to_convert
    from by_dimension
    group by dimension, dimension_value
)

select
    c.dimension,
    c.dimension_value,
    p.as_of,
    p.lead_expiry_days,
    c.leads_created,
    c.leads_converted,
    c.converted_deals_won,
    c.converted_won_amount_base,
    c.leads_open,
    c.leads_expired,
    c.median_days_to_convert,
    cast(c.leads_converted as double) / nullif(c.leads_created, 0) as lead_to_deal_rate,
    cast(c.converted_deals_won as double) / nullif(c.leads_created, 0) as lead_to_won_rate,
    cast(c.converted_deals_won as double) / nullif(c.leads_converted, 0) as deal_to_won_rate
from counts as c
cross join params as p
order by c.dimension, c.dimension_value
