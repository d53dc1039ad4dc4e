-- The deals a history file records stage changes for have their stage events rebuilt.
-- Grain: inserts into temp table affected_deals, one row per deal_id.
insert into affected_deals
select distinct deal_id from staged_history
where reject_reason is null and exclude_reason is null and stage is not null
