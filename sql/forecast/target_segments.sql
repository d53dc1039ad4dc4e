-- target_segments: each deal open at as_of with the owner and pipeline its targets follow.
-- Grain: open deal (source, deal_id), in that order (as forecast/open_deals).
-- owner_key: the deal's owner (as known at as_of) when a target names that owner, else NULL;
--   pipeline_key: its pipeline when a target names that pipeline, else NULL ($owners and
--   $pipelines list the names the targets use).
select
    o.source,
    o.deal_id,
    case when list_contains($owners, d.owner) then d.owner end as owner_key,  -- noqa: RF02
    case
        when list_contains($pipelines, d.pipeline) then d.pipeline  -- noqa: RF02
    end as pipeline_key
from int_forecast_open_deals as o
inner join int_deals_as_of as d on o.source = d.source and o.deal_id = d.deal_id
order by o.source, o.deal_id
