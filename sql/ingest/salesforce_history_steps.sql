-- salesforce_history_steps: temp table history_steps, the good rows of temp table history_rows
-- (OpportunityHistory, written on every save that changes stage, amount, probability or close
-- date) with what the deal had before each: its previous row's stage, and the amount and close
-- date the row says it replaced, else its previous row's, and its previous row's forecast category.
-- Grain: one row per good line of the file.
create or replace temp table history_steps as
select
    _row,
    deal_id,
    opportunity_name,
    stage,
    changed_at,
    amount,
    previous_amount,
    close_date,
    previous_close_date,
    forecast_category,
    exclude_reason,
    reject_reason,
    reject_column,
    lag(stage) over deal_order as previous_stage,
    coalesce(previous_amount, lag(amount) over deal_order) as amount_before,
    coalesce(previous_close_date, lag(close_date) over deal_order) as close_date_before,
    lag(forecast_category) over deal_order as forecast_category_before
from history_rows
where reject_reason is null and exclude_reason is null
window deal_order as (partition by deal_id order by changed_at, _row)
