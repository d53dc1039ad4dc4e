-- Reordered deals (temp table reordered_deals) and deals with a stage event whose order differs
-- from the stages table's have their stage events queued for the rebuild.
-- Grain: inserts into pending_stage_events, one row per (source, deal_id).
insert into pending_stage_events
select
    source,
    deal_id
from reordered_deals
union
select
    e.source,
    e.deal_id
from deal_stage_events as e
left join stages as st on e.pipeline = st.pipeline and e.stage = st.stage
where e.stage_order is distinct from st.stage_order
