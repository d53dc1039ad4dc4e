-- leads_insert: the good rows of temp table staged_leads become leads of source $source, batch
-- $batch_id, exported at $snapshot_at; a lead already stored from a newer export is kept as is.
-- Grain: one row per lead_id of the file.
insert into leads (
    source, lead_id, name, company, owner, lead_source, status, created_at, converted_at,
    converted_deal_id, snapshot_at, batch_id
)
select
    $source::varchar,
    s.lead_id,
    s.name,
    s.company,
    s.owner,
    s.lead_source,
    s.status,
    s.created_at,
    s.converted_at,
    s.converted_deal_id,
    $snapshot_at::timestamp,
    $batch_id::integer
from staged_leads as s
where
    s.reject_reason is null
    and s.exclude_reason is null
    and not exists (
        select 1 from leads as l
        where l.source = $source and l.lead_id = s.lead_id  -- noqa: RF02
    )
