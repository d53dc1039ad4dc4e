-- int_forecast_category_spans: each deal's forecast category (the rep's call) over time, as known
-- at as_of. Grain: source x deal_id x valid_from; the category holds for
-- valid_from <= t < valid_until.
-- evidence 'history': the deal has category rows in deal_changes (field forecast_category, from
--   Salesforce OpportunityHistory's ForecastCategory, changed by as_of): each new value from its
--   change until the next. Before the first, the call is unknown (no span).
-- evidence 'snapshot': no such rows but snapshots taken by as_of carrying a category: each
--   snapshot's category from its snapshot_at until the next. A call is never projected back
--   before the export that showed it (that would read today's call into past periods).
-- Categories are the stored names (Pipeline, Best Case, Commit, Closed, Omitted, or a value ingest
-- did not recognise, kept as written).
-- Portable (DuckDB and Spark): the open end is 9999-12-31 23:59:59 (no infinity on Spark).
with params as (
    select as_of
    from build_params
),

category_changes as (
    select
        c.source,
        c.deal_id,
        c.changed_at,
        c.new_value as forecast_category
    from deal_changes as c
    cross join params as p
    where c.field = 'forecast_category' and c.changed_at <= p.as_of
),

changed_deals as (
    select distinct
        source,
        deal_id
    from category_changes
),

snapshot_categories as (
    select
        s.source,
        s.deal_id,
        s.snapshot_at,
        s.forecast_category
    from deal_snapshots as s
    cross join params as p
    left join changed_deals as c
        on s.source = c.source and s.deal_id = c.deal_id
    where s.snapshot_at <= p.as_of and c.deal_id is null and s.forecast_category is not null
)

select
    source,
    deal_id,
    changed_at as valid_from,
    coalesce(
        lead(changed_at) over (partition by source, deal_id order by changed_at),
        timestamp '9999-12-31 23:59:59'
    ) as valid_until,
    forecast_category,
    'history' as evidence
from category_changes
union all
select
    source,
    deal_id,
    snapshot_at as valid_from,
    coalesce(
        lead(snapshot_at) over (partition by source, deal_id order by snapshot_at),
        timestamp '9999-12-31 23:59:59'
    ) as valid_until,
    forecast_category,
    'snapshot' as evidence
from snapshot_categories
