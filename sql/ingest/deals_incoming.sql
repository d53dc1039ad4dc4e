-- A deals file's good rows (temp table staged_deals) as deal rows of source $source, snapshot
-- $snapshot_at, batch $batch_id, in temp table incoming_deals. The configured stage order
-- ($stages; empty when inferred, applied once all files are loaded) gives stage_order; a deal
-- without a currency has the reporting currency $base.
-- amount_base is the amount in $base at the rate valid at the close date (else the expected close
-- date, else the snapshot); with no rate for the currency, the CRM's own conversion (HubSpot's
-- amount in company currency) if the export has one, else NULL (left out of money totals).
-- Grain: one row per staged deal.
create or replace temp table incoming_deals as
select
    $source::varchar as source,  -- noqa: RF04, RF02
    s.deal_id,
    s.name,
    s.account,
    s.owner,
    coalesce(s.pipeline, 'default') as pipeline,
    s.lead_source,
    s.deal_type,
    s.stage,
    nullif(list_position($stages::varchar[], s.stage), 0) as stage_order,  -- noqa: RF02
    s.status,
    s.amount,
    upper(coalesce(s.currency, $base)) as currency,  -- noqa: RF02
    case
        when upper(coalesce(s.currency, $base)) = upper($base) then s.amount  -- noqa: RF02
        else coalesce(s.amount * fx.rate_to_base, s.amount_base)
    end as amount_base,
    s.amount_base as amount_company_currency,
    s.probability,
    s.created_at,
    s.closed_at,
    s.expected_close_date,
    s.stage_changed_at,
    s.activity_count,
    s.segment,
    s.lead_id,
    s.forecast_category,
    $snapshot_at::timestamp as snapshot_at,  -- noqa: RF02
    $batch_id::integer as batch_id  -- noqa: RF02
from staged_deals as s
left join (
    -- The rate of each row not in the reporting currency (one per line, _row): the ASOF join
    -- sorts its input, so rows that need no rate (most files: all of them) stay out of it.
    select
        r._row,
        fx.rate_to_base
    from staged_deals as r
    asof inner join fx_rates as fx
        on
            upper(coalesce(r.currency, $base)) = fx.currency  -- noqa: RF02
            and coalesce(
                r.closed_at::date, r.expected_close_date, $snapshot_at::date  -- noqa: RF02
            ) >= fx.valid_from
    where
        r.reject_reason is null and r.exclude_reason is null
        and (upper(coalesce(r.currency, $base)) = upper($base)) is not true  -- noqa: RF02
) as fx on s._row = fx._row
where s.reject_reason is null and s.exclude_reason is null
