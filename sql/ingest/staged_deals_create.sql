-- A deals file's rows typed and checked (temp view deal_reading, which staging prepares from the
-- adapter's expressions and the file's locale) as temp table staged_deals, the canonical deal rows
-- every adapter writes. A row gets at most one of reject_reason (every failed check, joined;
-- reject_column names the first) and exclude_reason (not a live deal). One close column (like
-- Salesforce's CloseDate) means "expected" while the deal is open. Probabilities are divided by
-- $probability_scale (100 when the file writes 0-100).
-- Grain: one row per line of the file (_row).
create or replace temp table staged_deals as
with staged as (
    select
        _row,
        deal_id,
        name,
        account,
        owner,
        pipeline,
        lead_source,
        deal_type,
        segment,
        lead_id,
        forecast_category,
        deal_currency as currency,
        stage,
        status,
        amount_value as amount,
        amount_base_value as amount_base,
        probability_value as probability,
        try_cast(activity_count_value as integer) as activity_count,
        created_at_value as created_at,
        closed_at_value as close_date_value,
        expected_close_date_value as expected_close_value,
        stage_changed_at_value as stage_changed_at,
        updated_at_value as updated_at,
        exclude_reason,
        deleted,
        case when exclude_reason is null then nullif(failures, '') end as reject_reason,
        case when exclude_reason is null then failed_column end as reject_column
    from deal_reading
)

select
    * exclude (close_date_value, expected_close_value, probability),
    -- One close column (like Salesforce's CloseDate) means "expected" while open.
    case when status <> 'open' then close_date_value end as closed_at,
    case
        when status = 'open'
            then coalesce(expected_close_value, close_date_value)::date
        else expected_close_value::date
    end as expected_close_date,
    probability / $probability_scale as probability
from staged
