-- inference_closed_stages: the stages the live, valid deals of temp table staged_deals are won
-- or lost in, per status (what decided won and lost, for inferred_settings).
-- Grain: one row per status (won, lost) that has deals.
select
    status,
    list(distinct stage order by stage) as closed_stages
from staged_deals
where reject_reason is null and exclude_reason is null and status != 'open'
group by status
