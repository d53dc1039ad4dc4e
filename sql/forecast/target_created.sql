-- target_created: pipeline created in the trailing lookback window before as_of, per targeted
-- owner and pipeline: the share of future (not yet created) pipeline each is given.
-- Grain: owner_key x pipeline_key (as target_segments: NULL when no target names it).
-- created_base: amount_base of the deals created in (as_of - lookback_days, as_of].
select
    case when list_contains($owners, d.owner) then d.owner end as owner_key,  -- noqa: RF02
    case
        when list_contains($pipelines, d.pipeline) then d.pipeline  -- noqa: RF02
    end as pipeline_key,
    -- exact: any order, same sum
    sum(d.amount_base::decimal(38, 6))::double as created_base
from int_deals_as_of as d
cross join build_params as bp
where
    d.amount_base > 0
    and d.created_at > bp.as_of - interval 1 day * bp.lookback_days
    and d.created_at <= bp.as_of
group by all
order by all
