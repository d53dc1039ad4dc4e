-- The deals a deals file touched (loaded or deleted in the CRM) have their stage events rebuilt.
-- Grain: inserts into temp table affected_deals, one row per deal_id.
insert into affected_deals
select deal_id from incoming_deals
union
select deal_id from staged_deals
where deleted and exclude_reason is not null
