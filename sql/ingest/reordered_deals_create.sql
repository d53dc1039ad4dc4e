-- Deals whose stage order differs from the stages table's (a changed configured or inferred
-- order, or a stage that left it), with the new order, in temp table reordered_deals.
-- Grain: one row per (source, deal_id).
create or replace temp table reordered_deals as
select
    d.source,
    d.deal_id,
    st.stage_order
from deals as d
left join stages as st on d.pipeline = st.pipeline and d.stage = st.stage
where d.stage_order is distinct from st.stage_order
