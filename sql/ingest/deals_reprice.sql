-- Every deal's amount in the reporting currency $base again, after the exchange rates changed:
-- the rate valid at the close date (else the expected close date, else the snapshot); with no
-- rate, the CRM's own conversion if the export had one, else NULL.
-- Grain: updates deals, one row per (source, deal_id).
update deals
set amount_base = repriced.amount_base
from (
    select
        d.source,
        d.deal_id,
        case
            when upper(d.currency) = upper($base) then d.amount  -- noqa: RF02
            else coalesce(d.amount * fx.rate_to_base, d.amount_company_currency)
        end as amount_base
    from deals as d
    asof left join fx_rates as fx
        on
            d.currency = fx.currency
            and coalesce(d.closed_at::date, d.expected_close_date, d.snapshot_at::date)
            >= fx.valid_from
) as repriced
where deals.source = repriced.source and deals.deal_id = repriced.deal_id
