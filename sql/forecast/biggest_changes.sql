-- biggest_changes: the $changes deals whose expected value moved most since the run before run
-- $run, named from mart_deal_details.
-- Grain: changed deal, largest move first.
select
    d.name,
    d.account,
    c.change,
    c.previous_stage,
    c.stage,
    c.previous_expected_value_base,
    c.expected_value_base,
    c.delta_base
from forecast_changes as c
left join mart_deal_details as d on c.source = d.source and c.deal_id = d.deal_id
where c.run_id = $run  -- noqa: RF02
order by abs(c.delta_base) desc, c.deal_id
limit $changes
