-- A source's deals by name, for a history file keyed on the opportunity name: one row per name,
-- its deal id and how many of the source's deals carry it (more than one: the name picks none).
-- Deals keyed on their name (no Id in their export) map each name to itself.
create or replace temp table deal_ids_by_name as
select
    name,
    min(deal_id) as deal_id,
    count(*) as deals
from deals
where source = $source and name is not null
group by name
