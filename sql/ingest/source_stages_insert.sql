-- A file's stage metadata (temp table staged_stages) into source_stages, for the stages that have
-- no row left after source_stages_clear: a stage the org's stage table gave is kept over the
-- same stage seen on a deals file. Grain: one row per (source, pipeline, stage).
insert into source_stages by name
select
    $source::varchar as source,  -- noqa: RF04
    n.pipeline,
    n.stage,
    n.sort_order,
    n.is_closed,
    n.is_won,
    n.default_probability,
    $batch_id::integer as batch_id
from staged_stages as n
where
    n.reject_reason is null
    and n.exclude_reason is null
    and not exists (
        select 1 from source_stages as s
        where s.source = $source and s.pipeline = n.pipeline and s.stage = n.stage  -- noqa: RF02
    )
