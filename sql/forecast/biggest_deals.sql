-- biggest_deals: the $deals open deals of run $run with the largest expected value, named from
-- mart_deal_details; amount_base is the amount the forecast used (imputed or the deal's own).
-- Grain: open deal of the run, largest expected value first.
select
    d.name,
    d.account,
    d.owner,
    d.stage,
    f.win_probability,
    f.expected_close_month,
    f.expected_value_base,
    coalesce(f.amount_base, d.amount_base) as amount_base,
    coalesce(f.amount_imputed, false) as amount_imputed,
    f.expected_value_base / nullif(sum(f.expected_value_base) over (), 0) as share  -- noqa: RF04
from forecast_deals as f
left join mart_deal_details as d on f.source = d.source and f.deal_id = d.deal_id
where f.run_id = $run  -- noqa: RF02
qualify
    row_number() over (order by f.expected_value_base desc nulls last, f.deal_id asc)
    <= $deals  -- noqa: RF02
order by f.expected_value_base desc nulls last, f.deal_id asc
