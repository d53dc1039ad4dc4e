-- int_deal_dimensions: the dimensions every KPI mart can be cut by, one row per deal and dimension.
-- Grain: source x deal_id x dimension (the deals of int_deals_as_of).
-- dimension: 'all' (dimension_value 'all': every deal), 'owner', 'lead_source', 'pipeline',
--   'deal_type' and 'segment' (the one custom field a source maps to the canonical `segment`
--   column, e.g. region or product). A missing value is '(none)'.
-- Adding a cut is adding a branch here: int_kpis_by_window and every KPI mart pick it up.
select
    source,
    deal_id,
    'all' as dimension,
    'all' as dimension_value
from int_deals_as_of

union all

select
    source,
    deal_id,
    'owner' as dimension,
    coalesce(owner, '(none)') as dimension_value
from int_deals_as_of

union all

select
    source,
    deal_id,
    'lead_source' as dimension,
    coalesce(lead_source, '(none)') as dimension_value
from int_deals_as_of

union all

select
    source,
    deal_id,
    'pipeline' as dimension,
    coalesce(pipeline, '(none)') as dimension_value
from int_deals_as_of

union all

select
    source,
    deal_id,
    'deal_type' as dimension,
    coalesce(deal_type, '(none)') as dimension_value
from int_deals_as_of

union all

select
    source,
    deal_id,
    'segment' as dimension,
    coalesce(segment, '(none)') as dimension_value
from int_deals_as_of
