-- The deals of source $source queued in pending_stage_events, in temp table affected_deals for
-- the stage-event rebuild. Grain: one row per deal_id.
create or replace temp table affected_deals as
select distinct deal_id from pending_stage_events
where source = $source
