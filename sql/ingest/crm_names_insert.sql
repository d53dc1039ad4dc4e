-- A CRM's user or account names (temp table staged_names, object $object) replace source
-- $source's earlier ones, for batch $batch_id; a repeated id keeps its last line.
-- Grain: inserts into crm_names, one row per (source, object, id).
insert into crm_names by name
select
    $source::varchar as source,  -- noqa: RF04
    $object::varchar as object,  -- noqa: RF04
    id,
    name,
    $batch_id::integer as batch_id
from staged_names
where reject_reason is null and exclude_reason is null
qualify row_number() over (partition by id order by _row desc) = 1
