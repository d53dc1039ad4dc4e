-- Before a rebuild: remove the stage events of source $source's deals in temp table affected_deals.
-- Grain: deletes from deal_stage_events, every stint of each affected (source, deal_id).
delete from deal_stage_events
where
    source = $source
    and deal_id in (select deal_id from affected_deals)
