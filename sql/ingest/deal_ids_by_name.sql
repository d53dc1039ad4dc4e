-- A source's deals by name, for a history file keyed on the opportunity name: one row per deal
-- that has a name, with its creation and close times, amount and close date (to tell apart deals
-- of one name open at the same time) and how many of the source's deals carry
-- the name (one: the name is the deal; more: the history row's time picks one, see
-- link_history_to_named_deals). Deals keyed on a unique name map that name to itself.
create or replace temp table deal_ids_by_name as
select
    name,
    deal_id,
    created_at,
    closed_at,
    amount,
    coalesce(closed_at::date, expected_close_date) as close_date,
    count(*) over (partition by name) as deals
from deals
where source = $source and name is not null
