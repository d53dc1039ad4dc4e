-- The forecast categories of temp table staged_deals that are none of the stored names $known
-- (aliases/forecast_categories.toml did not recognise them), most frequent first, at most $listed.
-- Grain: one row per unrecognised value.
select
    forecast_category,
    count(*) as deals
from staged_deals
where
    reject_reason is null
    and exclude_reason is null
    and forecast_category is not null
    and not list_contains($known::varchar[], forecast_category)  -- noqa: RF02
group by forecast_category
order by deals desc, forecast_category asc
limit $listed
