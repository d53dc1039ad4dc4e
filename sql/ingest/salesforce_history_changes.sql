-- salesforce_history_changes: temp table staged_changes, the amount and close-date edits of
-- temp table history_steps (a value that differs from the one the deal had before the row), and
-- the forecast category each row sets or changes.
-- Grain: one row per edit of a field (amount, close_date, forecast_category) of a deal.
create or replace temp table staged_changes as
select
    deal_id,
    'amount' as field,
    amount_before::varchar as old_value,
    amount::varchar as new_value,
    changed_at
from history_steps
where amount_before is not null and amount is not null and amount_before <> amount
union all
select
    deal_id,
    'close_date' as field,
    strftime(close_date_before, '%Y-%m-%d') as old_value,
    strftime(close_date, '%Y-%m-%d') as new_value,
    changed_at
from history_steps
where
    close_date_before is not null
    and close_date is not null
    and close_date_before <> close_date
union all
-- The rep's call: the first row's category (set, old_value NULL) and every change of it.
select
    deal_id,
    'forecast_category' as field,
    forecast_category_before as old_value,
    forecast_category as new_value,
    changed_at
from history_steps
where
    forecast_category is not null
    and forecast_category is distinct from forecast_category_before
