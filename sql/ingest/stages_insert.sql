-- The stages table: the open stages in order (temp table open_stage_order) for every pipeline,
-- plus the terminal stages closed deals carry (outside the open ones) and those a CRM stage table
-- marks closed, with their basis. A stage's default probability comes from the configured
-- probabilities ($configured stages, $probabilities, in step), else from the CRM's stage table;
-- a terminal stage's basis is the outcome basis of its deals' source ($sources, $bases, in step),
-- or 'crm stage table'. Grain: inserts into stages, one row per (pipeline, stage).
insert into stages by name
with pipelines as (
    select distinct pipeline from deals
    union
    select 'default' as pipeline
    where not exists (select 1 from deals)
),

configured_probability as (
    select
        unnest($configured::varchar[]) as stage,
        unnest($probabilities::double[]) as default_probability
),

crm_probability as (
    select
        stage,
        max(default_probability) / 100 as default_probability
    from source_stages
    group by stage
),

outcome_basis as (
    select
        unnest($sources::varchar[]) as source,  -- noqa: RF04
        unnest($bases::varchar[]) as basis
),

terminal as (
    select
        d.pipeline,
        d.stage,
        b.basis,
        d.status = 'won' as won,
        d.status = 'lost' as lost
    from deals as d
    left join outcome_basis as b on d.source = b.source
    where d.status <> 'open'
    union all
    select
        s.pipeline,
        s.stage,
        'crm stage table' as basis,
        s.is_won as won,
        not s.is_won as lost
    from source_stages as s
    semi join pipelines as p on s.pipeline = p.pipeline
    where s.is_closed
)

select
    o.pipeline,
    o.stage,
    o.stage_order,
    false as is_won,
    false as is_lost,
    coalesce(p.default_probability, c.default_probability) as default_probability,
    o.basis
from open_stage_order as o
left join configured_probability as p on o.stage = p.stage
left join crm_probability as c on o.stage = c.stage
union all
select
    t.pipeline,
    t.stage,
    null as stage_order,
    bool_or(t.won) as is_won,
    bool_or(t.lost) as is_lost,
    case when bool_or(t.won) then 1.0 else 0.0 end as default_probability,
    case
        when bool_or(t.basis = 'crm stage table') then 'crm stage table'
        else min(t.basis)
    end as basis
from terminal as t
anti join open_stage_order as o on t.pipeline = o.pipeline and t.stage = o.stage
group by t.pipeline, t.stage
