-- stage_findings: every stage of every pipeline, its order and how it was decided, with the
-- deals in it now, open stages in order first.
-- Grain: pipeline x stage.
select
    s.pipeline,
    s.stage,
    s.stage_order,
    s.basis,
    count(d.deal_id) as deals
from stages as s
left join deals as d on s.pipeline = d.pipeline and s.stage = d.stage
group by s.pipeline, s.stage, s.stage_order, s.basis, s.is_lost
order by s.pipeline asc, s.stage_order asc nulls last, s.is_lost asc, s.stage asc
